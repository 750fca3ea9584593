"""UGC domain errors; `api.py` maps each to an HTTP status in one handler."""

from __future__ import annotations


class UgcError(Exception):
    """Base of the UGC errors; the message is safe to show to the caller."""


class FilmNotFound(UgcError):
    def __init__(self, film_id: object) -> None:
        super().__init__(f"film {film_id} not found")


class ReviewNotFound(UgcError):
    def __init__(self, review_id: object) -> None:
        super().__init__(f"review {review_id} not found")


class RatingNotFound(UgcError):
    pass


class ProgressNotFound(UgcError):
    pass


class ReviewExists(UgcError):
    """The viewer already reviewed this film (edit that review instead)."""

    def __init__(self, review_id: object) -> None:
        super().__init__(f"you already reviewed this film: review {review_id}")
        self.review_id = review_id


class NotAuthor(UgcError):
    def __init__(self) -> None:
        super().__init__("only the author may change this review")


class InvalidInput(UgcError):
    """A field the caller sent is not acceptable; the message starts with the field's name."""


class TooManyWrites(UgcError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many writes; try again in {retry_after} s")
        self.retry_after = retry_after
