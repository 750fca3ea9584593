"""The media context's domain errors (mapped to HTTP once, in `api.py`)."""

from __future__ import annotations


class MediaServiceError(Exception):
    """Base of the media context's errors; `str()` is a reason fit for a user."""


class VideoNotFound(MediaServiceError):
    pass


class NotPlayable(MediaServiceError):
    """The film has no video switched in yet."""


class InvalidTransition(MediaServiceError):
    pass


class UploadRefused(MediaServiceError):
    """An upload the settings do not allow (size, container, metadata)."""

    def __init__(self, reason: str, status_code: int = 400) -> None:
        super().__init__(reason)
        self.status_code = status_code
