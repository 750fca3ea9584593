"""A deterministic synthetic catalog for demos and benchmarks, streamed into PostgreSQL with COPY.

The same `seed` always gives the same films, people, credits and ids. Rows are rendered as
COPY text in chunks and written while the next chunk is built, so a million films fit in memory
and in minutes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from kinoteka.catalog.models import SCHEMA, analyze_catalog
from kinoteka.infra.db import libpq_url

CHUNK_FILMS = 5000
PERSONS_PER_FILM = 3

GENRES: tuple[tuple[str, str], ...] = (
    ("Action", "Chases, fights and explosions."),
    ("Adventure", "Journeys into the unknown."),
    ("Animation", "Drawn, modelled or stop-motion worlds."),
    ("Biography", "Lives of real people."),
    ("Comedy", "Made to make you laugh."),
    ("Crime", "Heists, detectives and the underworld."),
    ("Documentary", "The real world, observed."),
    ("Drama", "People, choices and consequences."),
    ("Family", "For every age at once."),
    ("Fantasy", "Magic, myth and other worlds."),
    ("Film-Noir", "Shadows, cynics and femmes fatales."),
    ("History", "Events that shaped the past."),
    ("Horror", "Fear, dread and the unknown."),
    ("Music", "Musicians and their music."),
    ("Musical", "Stories told in song."),
    ("Mystery", "Puzzles to be solved."),
    ("Romance", "Love found, lost and won."),
    ("Sci-Fi", "Science, the future and space."),
    ("Sport", "Games, athletes and rivalries."),
    ("Thriller", "Suspense to the last minute."),
    ("War", "Soldiers and the battles they fight."),
    ("Western", "The frontier and its outlaws."),
    ("Short", "Stories told in minutes."),
    ("Reality-TV", "Unscripted lives on screen."),
    ("Talk-Show", "Conversations with guests."),
    ("News", "Current events, reported."),
)

_ADJECTIVES = (
    "Silent", "Last", "Broken", "Hidden", "Crimson", "Golden", "Endless", "Frozen", "Burning",
    "Lost", "Dark", "Electric", "Wild", "Secret", "Distant", "Forgotten", "Shattered", "Quiet",
    "Restless", "Iron", "Velvet", "Midnight", "Hollow", "Savage", "Brave", "Lonely", "Fallen",
    "Rising", "Wandering", "Eternal", "Stolen", "Bitter", "Scarlet", "Silver", "Northern",
)  # fmt: skip
_NOUNS = (
    "Star", "River", "Empire", "Camp", "Kingdom", "Horizon", "Shadow", "Storm", "Garden",
    "Harbor", "Mirror", "Station", "Frontier", "Legacy", "Promise", "Voyage", "Winter", "Summer",
    "Signal", "Machine", "Island", "Crown", "Desert", "Orbit", "Galaxy", "Forest", "City",
    "Highway", "Detective", "Stranger", "Heart", "Dream", "Witness", "Circus", "Symphony",
    "Planet", "Outpost", "Lighthouse", "Republic", "Tide",
)  # fmt: skip
_FIRST_NAMES = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark",
    "Margaret", "Steven", "Sandra", "Paul", "Ashley", "Andrew", "Emily", "Joshua", "Donna",
    "Kenneth", "Michelle", "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa", "Timothy",
    "Deborah", "Ivan", "Olga", "Dmitri", "Anna", "Sergei", "Natalia", "Léa", "Pierre", "Chloé",
    "Hiroshi", "Yuki", "Lucía", "Mateo", "Ingrid", "Lars", "Amara", "Kwame", "Priya", "Arjun",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Ivanov", "Petrova", "Sokolov", "Dubois", "Lefèvre", "Tanaka", "Sato", "Fernández", "Rossi",
    "Bianchi", "Larsen", "Novak", "Mensah", "Okafor", "Sharma", "Kapoor", "Camp", "Hutchinson",
)  # fmt: skip
_PLOTS = (
    "{who} must {act} before {deadline}.",
    "When {event}, {who} discovers {secret}.",
    "{who} and an unlikely ally {act} across {place}.",
    "A story of {theme} set in {place}.",
)
_WHO = (
    "a retired detective", "two estranged sisters", "a young pilot", "a small-town teacher",
    "an ambitious journalist", "a reluctant hero", "a crew of misfits", "a grieving father",
    "a brilliant scientist", "a runaway prince",
)  # fmt: skip
_ACT = (
    "uncover a conspiracy", "find the way home", "win one last race", "save a dying town",
    "break an ancient curse", "stop a deadly plan", "rebuild a broken family",
)  # fmt: skip
_DEADLINE = ("the winter ends", "dawn", "the election", "the storm hits", "it is too late")
_EVENT = ("a letter arrives", "the power fails", "a stranger comes to town", "the war ends")
_SECRET = ("a forgotten past", "a hidden fortune", "the truth about home", "a second life")
_PLACE = ("the northern frontier", "a floating city", "1950s Paris", "a distant planet", "Moscow")
_THEME = ("friendship and betrayal", "love and loss", "ambition", "courage", "redemption")


def _uuid(rng: random.Random) -> str:
    value = (rng.getrandbits(128) & ~(0xF << 76) | (0x4 << 76)) & ~(0x3 << 62) | (0x2 << 62)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _title(rng: random.Random) -> str:
    pattern = rng.randrange(6)
    adjective, noun, other = rng.choice(_ADJECTIVES), rng.choice(_NOUNS), rng.choice(_NOUNS)
    if pattern == 0:
        return f"The {adjective} {noun}"
    if pattern == 1:
        return f"{noun} of the {other}"
    if pattern == 2:
        return f"{adjective} {noun}"
    if pattern == 3:
        return f"{rng.choice(_FIRST_NAMES)}'s {noun}"
    if pattern == 4:
        return f"{noun} {rng.randint(2, 5)}"
    return f"{adjective} {noun}: {rng.choice(_ADJECTIVES)} {other}"


def _description(rng: random.Random) -> str:
    text = rng.choice(_PLOTS).format(
        who=rng.choice(_WHO),
        act=rng.choice(_ACT),
        deadline=rng.choice(_DEADLINE),
        event=rng.choice(_EVENT),
        secret=rng.choice(_SECRET),
        place=rng.choice(_PLACE),
        theme=rng.choice(_THEME),
    )
    return text[:1].upper() + text[1:]


@dataclass
class GeneratedChunk:
    """COPY text lines for one table."""

    table: str
    columns: tuple[str, ...]
    lines: list[str]
    films: int = 0


@dataclass
class GenerateReport:
    genres_created: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    """Rows written, by table."""

    @property
    def films(self) -> int:
        return self.counts.get("film_work", 0)

    @property
    def persons(self) -> int:
        return self.counts.get("person", 0)

    @property
    def genre_links(self) -> int:
        return self.counts.get("genre_film_work", 0)

    @property
    def credits(self) -> int:
        return self.counts.get("person_film_work", 0)


# created/modified are left to their defaults (the load's own time), so change capture and the
# sync's `modified` cursor see generated rows like any other write.
FILM_COLUMNS = ("id", "title", "description", "creation_date", "rating", "type")
PERSON_COLUMNS = ("id", "full_name")
GENRE_LINK_COLUMNS = ("id", "film_work_id", "genre_id")
CREDIT_COLUMNS = ("id", "film_work_id", "person_id", "role")


def generate_rows(films: int, seed: int, genre_ids: list[str]) -> Iterator[GeneratedChunk]:
    """Render the catalog as COPY chunks: persons first, then films with their links."""
    rng = random.Random(seed)
    person_count = max(10, films * PERSONS_PER_FILM)
    person_ids = [_uuid(rng) for _ in range(person_count)]
    for start in range(0, person_count, CHUNK_FILMS * PERSONS_PER_FILM):
        stop = min(person_count, start + CHUNK_FILMS * PERSONS_PER_FILM)
        yield GeneratedChunk(
            "person",
            PERSON_COLUMNS,
            [
                f"{person_ids[i]}\t{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}\n"
                for i in range(start, stop)
            ],
        )
    for start in range(0, films, CHUNK_FILMS):
        film_lines: list[str] = []
        genre_lines: list[str] = []
        credit_lines: list[str] = []
        for _ in range(start, min(films, start + CHUNK_FILMS)):
            film_id = _uuid(rng)
            year = rng.randint(1930, 2025)
            date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            rating = round(rng.triangular(1.0, 9.9, 6.8), 1)
            kind = "tv_show" if rng.random() < 0.15 else "movie"
            description = _description(rng)
            film_lines.append(
                f"{film_id}\t{_title(rng)}\t{description}\t{date}\t{rating}\t{kind}\n"
            )
            for genre_id in rng.sample(genre_ids, rng.randint(1, 3)):
                genre_lines.append(f"{_uuid(rng)}\t{film_id}\t{genre_id}\n")
            for role, low, high in (("director", 1, 2), ("writer", 1, 3), ("actor", 3, 8)):
                for person in rng.sample(person_ids, rng.randint(low, high)):
                    credit_lines.append(f"{_uuid(rng)}\t{film_id}\t{person}\t{role}\n")
        yield GeneratedChunk("film_work", FILM_COLUMNS, film_lines, films=len(film_lines))
        yield GeneratedChunk("genre_film_work", GENRE_LINK_COLUMNS, genre_lines)
        yield GeneratedChunk("person_film_work", CREDIT_COLUMNS, credit_lines)


class GenerateError(Exception):
    """The catalog cannot take the generated rows; the message says why."""


def ensure_genres(connection: psycopg.Connection[Any], seed: int) -> tuple[list[str], int]:
    """Ids of the standard genres, creating the missing ones (names are unique)."""
    existing = dict(
        connection.execute(
            sql.SQL("SELECT name, id::text FROM {}").format(sql.Identifier(SCHEMA, "genre"))
        ).fetchall()
    )
    rng = random.Random(f"genres-{seed}")
    created = 0
    ids = []
    for name, description in GENRES:
        genre_id = _uuid(rng)
        if name not in existing:
            connection.execute(
                sql.SQL("INSERT INTO {} (id, name, description) VALUES (%s, %s, %s)").format(
                    sql.Identifier(SCHEMA, "genre")
                ),
                (genre_id, name, description),
            )
            existing[name] = genre_id
            created += 1
        ids.append(existing[name])
    return ids, created


def copy_chunk(connection: psycopg.Connection[Any], chunk: GeneratedChunk) -> None:
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(SCHEMA, chunk.table),
        columns=sql.SQL(", ").join(sql.Identifier(name) for name in chunk.columns),
    )
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write("".join(chunk.lines))


def generate_catalog(
    database_url: str,
    films: int,
    seed: int,
    *,
    progress: Callable[[int], None] | None = None,
) -> GenerateReport:
    """Add `films` generated films (with people and credits) in one transaction."""
    if films < 0:
        raise GenerateError("--films must be 0 or more")
    report = GenerateReport()
    with psycopg.connect(libpq_url(database_url)) as connection, connection.transaction():
        genre_ids, report.genres_created = ensure_genres(connection, seed)
        try:
            for chunk in generate_rows(films, seed, genre_ids):
                copy_chunk(connection, chunk)
                report.counts[chunk.table] = report.counts.get(chunk.table, 0) + len(chunk.lines)
                if chunk.films and progress is not None:
                    progress(chunk.films)
        except psycopg.errors.UniqueViolation:
            raise GenerateError(
                f"the catalog already holds rows generated with seed {seed}; pick another --seed"
            ) from None
        analyze_catalog(connection)
    return report
