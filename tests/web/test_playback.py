"""What the pages take from the media context's stream answer."""

from __future__ import annotations

import pytest

from kinoteka.web.playback import PlaybackInfo


def test_the_media_answer_is_read_with_one_poster_and_one_preview() -> None:
    info = PlaybackInfo.model_validate(
        {
            "film_id": "3d825f60-9fff-4dfe-b294-1a45fa1e115d",
            "hls": "https://cdn.test/v/master.m3u8",
            "dash": "https://cdn.test/v/manifest.mpd",
            "poster": {"small": "https://cdn.test/p-s.jpg", "large": "https://cdn.test/p-l.jpg"},
            "sprite_vtt": "https://cdn.test/v/sprite.vtt",
            "preview_webp": "https://cdn.test/v/preview.webp",
            "preview_gif": "https://cdn.test/v/preview.gif",
            "duration": 5400.5,
            "qualities": ["1080p", "720p"],
        }
    )
    assert info.playable
    assert info.poster_url == "https://cdn.test/p-l.jpg"
    assert info.thumbnails_url == "https://cdn.test/v/sprite.vtt"
    assert info.preview_url == "https://cdn.test/v/preview.webp"
    assert info.duration == 5400.5


@pytest.mark.parametrize(
    ("answer", "playable", "preview"),
    [
        ({"dash": "/m.mpd", "preview_gif": "/p.gif", "poster": {}}, True, "/p.gif"),
        ({"hls_url": "/m.m3u8", "preview_url": "/x.webp"}, True, "/x.webp"),
        ({"poster": "/p.jpg"}, False, None),
    ],
)
def test_variants_of_the_answer(
    answer: dict[str, object], playable: bool, preview: str | None
) -> None:
    info = PlaybackInfo.model_validate(answer)
    assert info.playable is playable
    assert info.preview_url == preview
