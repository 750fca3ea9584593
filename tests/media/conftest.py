"""Fixtures of the media tests: generated clips, shared by the whole session."""

from __future__ import annotations

import pytest

from tests.media.app_fixtures import media_server  # noqa: F401 - fixture
from tests.media.clips import ClipCache
from tests.media.fixtures import job_env, seaweed_s3_url, storage_url  # noqa: F401 - fixtures


@pytest.fixture(scope="session")
def clip_cache(tmp_path_factory: pytest.TempPathFactory) -> ClipCache:
    """Clips generated once per session: `clip_cache.get(width=1920, height=1080)`."""
    return ClipCache(tmp_path_factory.mktemp("clips"))
