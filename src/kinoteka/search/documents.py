"""Search documents (movies, genres, persons): what they hold and their index definitions.

PostgreSQL renders every document as JSON in the shape the indexes hold (the queries are in
`kinoteka.search.repository.documents`), handed on as `EncodedDocument`s (or parsed, for
comparisons):
- movies: `id`, `imdb_rating`, `title`, `title_exact` (the title again, indexed as written),
  `description`, `genres` (names), `genre_ids`,
  `directors_names`, `actors_names`, `writers_names`, `directors_ids`, `actors_ids`,
  `writers_ids`, `directors`/`actors`/`writers` as `[{id, name}]`, `poster_url` (the catalog's
  poster path, 320 pixels wide; the other widths are beside it), `release_date` (ISO date),
  `type` (`movie`, `tv_show`), `added` (when the film entered the catalog: seconds since
  1970, what "new" sorts by), `popularity` (the weight of its search relevance: rating plus
  a little for its credits, see `search.repository.documents.POPULARITY_SQL`), `has_video`
  (whether the film has a playable video, always present), `duration` (its seconds) and
  `qualities` (its rungs, `["1080p", "720p"]`), `video_poster_url` and `preview_url` (public
  paths of its poster, 320 pixels wide, and its animated preview, once made: what a film
  without a catalog poster shows, and the film page's preview for every visitor), read from
  `media.videos`;
  `user_rating` (the viewers' average 0-10 score, 2 decimals), `user_rating_count` and
  `review_count` (from ugc's per-film counters);
- genres: `id`, `name`, `description`;
- persons: `id`, `full_name`, `films: [{id, roles}]`.
A field without a value (no rating, no description, no poster) is left out, not `null`.
`directors`/`actors`/`writers` are derived fields (`FieldSpec.derived`: the names and ids
zipped, in the same order): the query leaves them out and an index completes documents with
them (`IndexDefinition.complete`), so PostgreSQL renders each credit twice, not three times.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kinoteka.infra.search import (
    FieldKind,
    FieldSpec,
    IndexDefinition,
)
from kinoteka.search.settings import IndexNames


class DocumentKind(StrEnum):
    """What a change-queue row or an index is about."""

    FILM = "film"
    GENRE = "genre"
    PERSON = "person"


_ID = FieldSpec("id", FieldKind.KEYWORD)


def _people(role: str) -> FieldSpec:
    # Both properties repeat flat fields: an index that flattens documents need not index the
    # objects at all (Tantivy: a third less work per film).
    return FieldSpec(
        role,
        FieldKind.OBJECTS,
        properties=(
            FieldSpec("id", FieldKind.KEYWORD, same_as=f"{role}_ids"),
            FieldSpec("name", FieldKind.TEXT, same_as=f"{role}_names"),
        ),
    )


MOVIE_FIELDS = (
    _ID,
    FieldSpec("imdb_rating", FieldKind.FLOAT),
    # Ranking (see the search port): a title match counts five description matches, the
    # query's words in order in the title twice that again, the title's words as typed (not
    # stemmed: "darkness" is not "dark") a little more; relevance is weighted by `popularity`.
    FieldSpec("title", FieldKind.TEXT, sortable=True, boost=5.0, phrase_boost=10.0),
    FieldSpec("title_exact", FieldKind.TEXT, boost=2.0, exact=True),
    FieldSpec("description", FieldKind.TEXT, boost=1.0),
    FieldSpec("genres", FieldKind.TEXT, boost=1.0),
    FieldSpec("genre_ids", FieldKind.KEYWORD),
    FieldSpec("directors_names", FieldKind.TEXT, boost=2.0),
    FieldSpec("actors_names", FieldKind.TEXT, boost=2.0),
    FieldSpec("writers_names", FieldKind.TEXT, boost=2.0),
    FieldSpec("directors_ids", FieldKind.KEYWORD),
    FieldSpec("actors_ids", FieldKind.KEYWORD),
    FieldSpec("writers_ids", FieldKind.KEYWORD),
    FieldSpec("poster_url", FieldKind.KEYWORD),
    FieldSpec("release_date", FieldKind.KEYWORD),
    FieldSpec("type", FieldKind.KEYWORD),
    FieldSpec("popularity", FieldKind.FLOAT),
    FieldSpec("added", FieldKind.FLOAT),
    FieldSpec("user_rating", FieldKind.FLOAT),
    FieldSpec("user_rating_count", FieldKind.FLOAT),
    FieldSpec("review_count", FieldKind.FLOAT),
    FieldSpec("has_video", FieldKind.BOOL),
    FieldSpec("duration", FieldKind.FLOAT),
    FieldSpec("qualities", FieldKind.KEYWORD),
    FieldSpec("video_poster_url", FieldKind.KEYWORD),
    FieldSpec("preview_url", FieldKind.KEYWORD),
    _people("directors"),
    _people("actors"),
    _people("writers"),
)
GENRE_FIELDS = (
    _ID,
    FieldSpec("name", FieldKind.TEXT, sortable=True, boost=2.0),
    FieldSpec("description", FieldKind.TEXT, boost=1.0),
)
PERSON_FIELDS = (
    _ID,
    FieldSpec("full_name", FieldKind.TEXT, sortable=True, boost=1.0),
    FieldSpec(
        "films",
        FieldKind.OBJECTS,
        properties=(FieldSpec("id", FieldKind.KEYWORD), FieldSpec("roles", FieldKind.KEYWORD)),
    ),
)


@dataclass(frozen=True)
class SearchIndexes:
    """The three index definitions under the names the settings give them."""

    movies: IndexDefinition
    genres: IndexDefinition
    persons: IndexDefinition

    @classmethod
    def named(cls, names: IndexNames) -> SearchIndexes:
        return cls(
            movies=IndexDefinition(names.movies, MOVIE_FIELDS, weight_field="popularity"),
            genres=IndexDefinition(names.genres, GENRE_FIELDS),
            persons=IndexDefinition(names.persons, PERSON_FIELDS),
        )

    def all(self) -> list[IndexDefinition]:
        return [self.movies, self.genres, self.persons]

    def for_kind(self, kind: DocumentKind) -> IndexDefinition:
        return {
            DocumentKind.FILM: self.movies,
            DocumentKind.GENRE: self.genres,
            DocumentKind.PERSON: self.persons,
        }[kind]
