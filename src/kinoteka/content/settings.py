"""Settings of the content API (`KINOTEKA_CONTENT__*`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ContentSettings(BaseModel):
    public: bool = Field(
        default=False, description="Open the content API to anonymous reads (no token needed)."
    )
    cache_ttl: float = Field(
        default=300.0, gt=0, description="Seconds a cached answer lives (the index version "
        "bump invalidates it sooner)."
    )  # fmt: skip
    default_page_size: int = Field(default=50, ge=1, le=100)
