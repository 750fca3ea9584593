"""Who may read the catalog: holders of a valid access token, or anyone when it is public."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kinoteka.auth import AccessClaims, check_access_token, get_auth_kit
from kinoteka.services import ServicesDep

bearer = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login.")


async def content_reader(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AccessClaims | None:
    """The caller's verified claims; None when `KINOTEKA_CONTENT__PUBLIC=true`."""
    if services.settings.content.public:
        return None
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return await check_access_token(get_auth_kit(services), credentials.credentials)
