"""Request and response bodies of the auth API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, Field

from kinoteka.auth.models import DeviceType, LoginMethod, LoginOutcome

Password = Field(min_length=1, max_length=1024)


class Credentials(BaseModel):
    email: str = Field(max_length=320, examples=["viewer@example.com"])
    password: str = Password


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    is_active: bool
    created: dt.datetime
    roles: list[str]
    permissions: list[str]


class SignUpOut(UserOut):
    """The new account, already signed in: `tokens` opens its first session."""

    tokens: TokenOut


class PasswordChangeIn(BaseModel):
    current_password: str = Password
    new_password: str = Password


class ResetRequestIn(BaseModel):
    email: str = Field(max_length=320)


class ResetIn(BaseModel):
    token: str = Field(min_length=1, max_length=512)
    new_password: str = Password


class DeactivateIn(BaseModel):
    password: str = Password


class DeleteAccountIn(BaseModel):
    """The account's password, confirming that its holder deletes it."""

    password: str = Password


class SessionOut(BaseModel):
    id: uuid.UUID
    created: dt.datetime
    last_used: dt.datetime
    ip: str | None
    user_agent: str | None
    device_type: DeviceType
    current: bool = Field(description="The session of the token making this request.")


class LoginOut(BaseModel):
    created: dt.datetime
    ip: str | None
    user_agent: str | None
    device_type: DeviceType
    method: LoginMethod
    outcome: LoginOutcome


class HistoryPage(BaseModel):
    items: list[LoginOut]
    page: int
    size: int
    total: int


class RoleIn(BaseModel):
    name: str = Field(max_length=63, examples=["moderator"])
    description: str = Field(default="", max_length=500)
    permissions: list[str] = Field(default_factory=list, examples=[["ugc.moderate"]])


class RoleOut(BaseModel):
    name: str
    description: str
    permissions: list[str]


class GrantIn(BaseModel):
    role: str = Field(max_length=63)
