"""The media processing library: ffprobe/ffmpeg turned into typed, synchronous functions.

`probe` a source, `plan_ladder` its renditions, `render` them in one ffmpeg pass to CMAF
segments behind an HLS master playlist and a DASH MPD, and `make_artwork` (poster, seek
sprite sheet + WebVTT, animated previews). Everything writes into a caller-owned
`out_dir` and leaves nothing there when it fails; a process killed outright (SIGKILL)
takes its ffmpeg with it but leaves a hidden scratch directory, which
`remove_partial_outputs` clears before an `out_dir` is reused. Errors are `MediaError`s
whose `str()` is a one-line reason for the admin.
"""

from kinoteka.media.processing.artwork import Artwork, make_artwork
from kinoteka.media.processing.errors import MediaError, ProbeError, RenderError
from kinoteka.media.processing.ladder import DEFAULT_HEIGHTS, LadderRung, plan_ladder
from kinoteka.media.processing.probe import ProbeResult, probe
from kinoteka.media.processing.render import Rendition, render
from kinoteka.media.processing.runner import ProgressCallback
from kinoteka.media.processing.staging import remove_partial_outputs

__all__ = [
    "DEFAULT_HEIGHTS",
    "Artwork",
    "LadderRung",
    "MediaError",
    "ProbeError",
    "ProbeResult",
    "ProgressCallback",
    "RenderError",
    "Rendition",
    "make_artwork",
    "plan_ladder",
    "probe",
    "remove_partial_outputs",
    "render",
]
