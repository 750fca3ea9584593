"""The warehouse's deduplication token: a block re-inserted as-is carries the same one."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from kinoteka.analytics.warehouse import dedup_token


@given(st.sampled_from(["a", "clicks_on_video_pauses"]), st.lists(st.binary(max_size=40)))
def test_the_token_hashes_the_table_and_each_line_with_its_newline(
    table: str, lines: list[bytes]
) -> None:
    # The definition the tokens of earlier versions follow: a block they inserted before an
    # upgrade and inserted again after it is still recognised.
    digest = hashlib.sha256(table.encode())
    for line in lines:
        digest.update(line + b"\n")
    assert dedup_token(table, lines) == digest.hexdigest()


def test_tokens_differ_by_table_and_by_content() -> None:
    lines = [b'{"a":1}', b'{"a":2}']
    assert dedup_token("t", lines) != dedup_token("u", lines)
    assert dedup_token("t", lines) != dedup_token("t", lines[::-1])
