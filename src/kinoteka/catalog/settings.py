"""Settings of the catalog context: posters and the admin panel (`KINOTEKA_CATALOG__…`)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class PosterSettings(BaseModel):
    max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest poster upload accepted, in bytes."
    )
    max_pixels: int = Field(
        default=40_000_000, ge=1, description="Largest poster accepted, in width x height pixels."
    )
    max_decoded_bytes: int = Field(
        default=192 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest poster accepted, in bytes of decoded pixels (read from its header).",
    )
    workers: int = Field(
        default=2, ge=1, le=32, description="Worker processes decoding posters at once."
    )
    tasks_per_worker: int = Field(
        default=1,
        ge=1,
        description="Posters a worker process renders before it is replaced (its memory freed).",
    )
    widths: tuple[int, ...] = Field(
        default=(160, 320, 640), description="WebP renditions made of each poster, in pixels."
    )
    quality: int = Field(default=82, ge=1, le=100, description="WebP quality of the renditions.")
    url_ttl_seconds: int = Field(
        default=3600, ge=60, description="Lifetime of the signed URLs poster links redirect to."
    )

    @field_validator("widths")
    @classmethod
    def _sensible_widths(cls, widths: tuple[int, ...]) -> tuple[int, ...]:
        if not widths or any(width < 16 or width > 4096 for width in widths):
            raise ValueError("give one or more widths between 16 and 4096")
        return tuple(sorted(set(widths)))


class AdminSettings(BaseModel):
    title: str = Field(default="Kinoteka admin", description="Shown in the admin's header.")
    session_max_age: int = Field(
        default=8 * 3600, ge=300, description="Seconds an admin login lasts without activity."
    )
    https_only: bool = Field(
        default=False, description="Send the admin session cookie over HTTPS only."
    )


class CatalogSettings(BaseModel):
    posters: PosterSettings = PosterSettings()
    admin: AdminSettings = AdminSettings()
