"""Settings of the viewer's pages (`KINOTEKA_WEB__*`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class WebSettings(BaseModel):
    public_browsing: bool = Field(
        default=True,
        description="Let anonymous visitors browse the catalog pages; false: sign-in first.",
    )
    session_max_age: int = Field(
        default=14 * 24 * 3600, ge=300, description="Seconds a signed-in page session lasts."
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="Mark the session cookie Secure; unset: everywhere but development.",
    )
    media_api_url: str | None = Field(
        default=None,
        description="Base URL of the media API (`GET /api/v1/films/{id}/stream`); unset: this app.",
    )
    default_locale: str = Field(
        default="en", description="UI language when the browser names none."
    )
    row_size: int = Field(default=12, ge=1, le=50, description="Films per row on the home page.")
    page_size: int = Field(default=24, ge=1, le=100, description="Films per page of a list.")
    home_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Seconds the home page's catalog rows are reused before being read again.",
    )
    genre_rows: int = Field(default=4, ge=0, le=20, description="Genre rows on the home page.")
    page_cache_entries: int = Field(
        default=2000,
        ge=0,
        description="Anonymous pages kept rendered (gzipped) per process; 0: no page cache.",
    )
    page_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Seconds an anonymous page is served from the cache at most (a catalog "
        "change drops it at once); 0: no page cache.",
    )
