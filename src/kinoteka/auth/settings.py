"""The `auth` group of the settings tree (`KINOTEKA_AUTH__…`)."""

from __future__ import annotations

from pydantic import BaseModel, Field, HttpUrl, SecretStr, field_validator


class PasswordHashSettings(BaseModel):
    """Argon2id cost; the defaults are OWASP's minimum (19 MiB, t=2, p=1)."""

    memory_kib: int = Field(default=19456, ge=8, description="Argon2id memory cost in KiB.")
    time_cost: int = Field(default=2, ge=1, description="Argon2id iterations.")
    parallelism: int = Field(default=1, ge=1, description="Argon2id lanes.")


class RateLimitSettings(BaseModel):
    """Limits in the `limits` notation (`10/minute`, `5 per hour`)."""

    enabled: bool = True
    login_per_ip: str = "30/minute"
    login_per_account: str = "10/minute"
    signup_per_ip: str = "20/hour"
    password_reset_per_account: str = "3/hour"  # noqa: S105 - a rate, not a secret
    api_per_client: str = "600/minute"


class LockoutSettings(BaseModel):
    """Progressive lockout after consecutive failed logins on one account."""

    threshold: int = Field(default=5, ge=1, description="Failures before the first lock.")
    base_seconds: float = Field(default=30.0, gt=0, description="First lock; doubles after.")
    max_seconds: float = Field(default=3600.0, gt=0, description="Longest lock.")


class OAuthProvider(BaseModel):
    """One social-login provider: an OIDC issuer by discovery URL, or plain OAuth2 endpoints.

    `preset` fills the endpoints of a well-known provider (google, yandex, github), e.g.
    `KINOTEKA_AUTH__OAUTH_PROVIDERS='{"github": {"preset": "github", "client_id": "…"}}'`.
    """

    preset: str | None = Field(default=None, description="google, yandex or github.")
    client_id: str
    client_secret: SecretStr = SecretStr("")
    discovery_url: HttpUrl | None = Field(
        default=None, description="OpenID Connect discovery document (…/.well-known/openid-…)."
    )
    authorize_url: HttpUrl | None = None
    token_url: HttpUrl | None = None
    userinfo_url: HttpUrl | None = None
    scope: str | None = Field(default=None, description="Unset: the preset's or OIDC's.")
    email_claim: str = "email"
    subject_claim: str = "sub"


class AuthSettings(BaseModel):
    issuer: str = Field(default="kinoteka-auth", description="`iss` of the access tokens.")
    audience: str = Field(default="kinoteka", description="`aud` of the access tokens.")
    access_ttl_seconds: int = Field(default=15 * 60, ge=10, description="Access JWT lifetime.")
    refresh_ttl_seconds: int = Field(
        default=30 * 24 * 3600, ge=60, description="Refresh token lifetime (a session's)."
    )
    leeway_seconds: int = Field(default=10, ge=0, description="Clock skew tolerated on `exp`.")
    jwks_url: str | None = Field(
        default=None,
        description="Verify tokens with this JWKS (another deployment); unset: the auth schema.",
    )
    key_refresh_seconds: float = Field(
        default=30.0, ge=0, description="How often a verifier may reload keys for an unknown kid."
    )
    remembered_tokens: int = Field(
        default=4096,
        ge=0,
        description="Verified access tokens a process remembers, skipping their signature check "
        "on the next requests (never their expiry or revocation); 0: none.",
    )
    password_hash: PasswordHashSettings = PasswordHashSettings()
    password_min_length: int = Field(default=10, ge=8)
    reset_token_ttl_seconds: int = Field(default=3600, ge=60)
    rate_limits: RateLimitSettings = RateLimitSettings()
    lockout: LockoutSettings = LockoutSettings()
    redis_prefix: str = Field(default="auth", description="Namespace of auth keys in Redis.")
    cors_origins: list[str] = Field(default_factory=list, description="Allowed CORS origins.")
    public_url: str = Field(
        default="",
        description="Base URL of the site: the auth API and the pages mail links open; "
        "unset: the address the server listens on (KINOTEKA_HOST, KINOTEKA_PORT).",
    )
    oauth_providers: dict[str, OAuthProvider] = Field(default_factory=dict)

    @field_validator("redis_prefix")
    @classmethod
    def _plain_prefix(cls, value: str) -> str:
        if not value or any(char in value for char in " {}"):
            raise ValueError("must be a non-empty word without spaces or braces")
        return value
