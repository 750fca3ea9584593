"""Settings of the content API (`KINOTEKA_CONTENT__*`)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator

from kinoteka.infra.search import MAX_LIMIT


class ContentSettings(BaseModel):
    public: bool = Field(
        default=False, description="Open the content API to anonymous reads (no token needed)."
    )
    cache_ttl: float = Field(
        default=300.0, gt=0, description="Seconds a cached answer lives (the index version "
        "bump invalidates it sooner)."
    )  # fmt: skip
    default_page_size: int = Field(
        default=50, ge=1, le=MAX_LIMIT, description="Items a list page holds when not asked."
    )
    max_page_size: int = Field(
        default=100,
        ge=1,
        le=MAX_LIMIT,
        description="The largest `page_size` a list accepts; a larger one is a 422.",
    )

    @model_validator(mode="after")
    def _default_fits(self) -> Self:
        if self.default_page_size > self.max_page_size:
            raise ValueError(
                f"default_page_size ({self.default_page_size}) exceeds max_page_size "
                f"({self.max_page_size})"
            )
        return self
