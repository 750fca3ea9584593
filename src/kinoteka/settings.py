"""The one settings tree: env vars `KINOTEKA_*` (nested with `__`), an optional `kinoteka.yaml`.

Read once at start-up (`load_settings`) and passed down; nothing else reads the environment.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from kinoteka.analytics.settings import AnalyticsSettings
from kinoteka.auth.settings import AuthSettings
from kinoteka.catalog.settings import CatalogSettings
from kinoteka.content.settings import ContentSettings
from kinoteka.infra.cache import CacheSettings
from kinoteka.infra.db import DatabaseSettings
from kinoteka.media.settings import MediaSettings
from kinoteka.notify.settings import NotifySettings
from kinoteka.search.settings import SearchSettings
from kinoteka.ugc.settings import UgcSettings
from kinoteka.web.settings import WebSettings

DEFAULT_SECRET = "change-me-in-production"  # noqa: S105 - refused outside development below
MIN_SECRET_BYTES = 32  # what HMAC-SHA256 keys and OWASP's session-secret advice call for


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogSettings(BaseModel):
    level: str = Field(default="INFO", description="Root log level (DEBUG, INFO, WARNING, ...).")
    json_output: bool = Field(
        default=False, alias="json", description="Emit JSON log lines instead of console lines."
    )

    model_config = {"populate_by_name": True}

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return upper


class DemoSettings(BaseModel):
    films: int = Field(default=1000, ge=0, description="Films generated on first start if empty.")
    seed: int = Field(default=42, description="Seed of the generated demo catalog.")
    sqlite: Path | None = Field(
        default=None, description="Import this SQLite file instead of generating a catalog."
    )


class Settings(BaseSettings):
    """Everything configurable in Kinoteka. Unset URLs mean: run the embedded twin."""

    model_config = SettingsConfigDict(
        env_prefix="KINOTEKA_",
        env_nested_delimiter="__",
        extra="ignore",
        yaml_file="kinoteka.yaml",
    )

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Field(
        default=Path(".kinoteka"), description="Where embedded servers keep their data."
    )
    database_url: str | None = Field(
        default=None, description="postgresql://… of an external server; unset: embedded."
    )
    redis_url: str | None = Field(
        default=None, description="redis://… or unix://… of an external Redis; unset: embedded."
    )
    search_url: str | None = Field(
        default=None, description="tantivy:///path or http(s)://elasticsearch; unset: tantivy."
    )
    storage_url: str | None = Field(
        default=None, description="file:///path or s3://bucket?endpoint=…; unset: local dir."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Reverse proxies (IPs or CIDR networks, comma-separated) whose "
        "X-Forwarded-For/-Proto are believed; empty: those headers are ignored.",
    )
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    log: LogSettings = LogSettings()
    demo: DemoSettings = DemoSettings()
    catalog: CatalogSettings = CatalogSettings()
    auth: AuthSettings = AuthSettings()
    database: DatabaseSettings = DatabaseSettings()
    cache: CacheSettings = CacheSettings()
    content: ContentSettings = ContentSettings()
    search: SearchSettings = SearchSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    media: MediaSettings = MediaSettings()
    web: WebSettings = WebSettings()
    notify: NotifySettings = NotifySettings()
    ugc: UgcSettings = UgcSettings()

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @property
    def site_url(self) -> str:
        """`http://HOST:PORT` of the server, as a browser on this machine reaches it (a
        wildcard address is reached on the loopback)."""
        wildcards = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - read
        host = wildcards.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @model_validator(mode="after")
    def _links_to_this_site(self) -> Settings:
        # Mail links open the site that sent them unless a public address is set.
        for branch in (self.auth, self.notify):
            if not branch.public_url:
                branch.public_url = self.site_url
        return self

    @model_validator(mode="after")
    def _enforce_non_default_secrets(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if not secret:
            # Anywhere: an empty key would only fail later, signing the first cookie.
            raise ValueError("KINOTEKA_SECRET_KEY: must not be empty")
        if self.env is Environment.PRODUCTION:
            if secret == DEFAULT_SECRET:
                raise ValueError("KINOTEKA_SECRET_KEY: the default secret is refused in production")
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"KINOTEKA_SECRET_KEY: too short for production ({len(secret.encode())} "
                    f"of at least {MIN_SECRET_BYTES} bytes); give a random one "
                    "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then the environment, then kinoteka.yaml.
        return (
            init_settings,
            env_settings,
            YamlConfigSettingsSource(settings_cls),
            file_secret_settings,
        )


class SettingsError(Exception):
    """Invalid configuration, phrased as one line naming the setting."""


def describe_validation_error(error: ValidationError) -> str:
    """Turn pydantic's report into `KINOTEKA_PORT: Input should be …` lines."""
    lines = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        message = item["msg"].removeprefix("Value error, ")
        if not location:  # a check across settings names the variables in its message
            lines.append(message)
            continue
        name = "KINOTEKA_" + "__".join(location).upper()
        lines.append(f"{name}: {message}")
    return "; ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once; raise `SettingsError` with a one-line reason when invalid."""
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
    if not settings.data_dir.is_absolute():
        settings.data_dir = settings.data_dir.absolute()
    return settings
