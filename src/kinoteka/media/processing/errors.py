"""Errors of the media pipeline; `str(error)` is a reason an editor can read in the admin."""


class MediaError(Exception):
    """The pipeline could not process a file; `reason` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProbeError(MediaError):
    """The file is not a playable video: empty, truncated, audio-only, a still image, …"""


class RenderError(MediaError):
    """ffmpeg failed while encoding; the reason is its last error line."""
