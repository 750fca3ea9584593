"""Entity tags for cached responses: a strong tag from the body, and the `If-None-Match` check
(RFC 9110 §13.1.2: weak comparison, a list of tags or `*`)."""

from __future__ import annotations

import hashlib


def etag_of(body: bytes) -> str:
    """A strong entity tag for `body` (quoted, 24 hex digits of its BLAKE2b)."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether a request's `If-None-Match` names `etag` (or `*`): the answer is a 304."""
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in candidates or "*" in candidates
