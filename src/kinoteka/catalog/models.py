"""Catalog tables (schema `content`), as the course's layout names them."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kinoteka.infra.db.base import Base, text_enum

SCHEMA = "content"


class FilmType(StrEnum):
    MOVIE = "movie"
    TV_SHOW = "tv_show"


class PersonRole(StrEnum):
    ACTOR = "actor"
    DIRECTOR = "director"
    WRITER = "writer"
    PRODUCER = "producer"
    COMPOSER = "composer"
    CINEMATOGRAPHER = "cinematographer"
    EDITOR = "editor"


class Timestamped:
    created: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Modified:
    # Kept current by the trigger `content.touch_modified` on every UPDATE.
    modified: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class FilmWork(Timestamped, Modified, Base):
    __tablename__ = "film_work"
    __table_args__ = (
        CheckConstraint("rating >= 0 AND rating <= 10", name="rating_range"),
        Index("ix_film_work_modified_id", "modified", "id"),
        Index("ix_film_work_creation_date", "creation_date"),
        Index("ix_film_work_rating", "rating"),
        Index("ix_film_work_title", "title"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    creation_date: Mapped[dt.date | None] = mapped_column(Date)
    file_path: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[float | None] = mapped_column(Float)
    type: Mapped[FilmType] = mapped_column(text_enum(FilmType, "film_type"), nullable=False)
    poster_key: Mapped[str | None] = mapped_column(Text)
    """Storage prefix of the poster renditions (`<poster_key>/<width>.webp`); None: no poster."""

    genres: Mapped[list[GenreFilmWork]] = relationship(
        back_populates="film_work", cascade="all, delete-orphan", lazy="raise"
    )
    persons: Mapped[list[PersonFilmWork]] = relationship(
        back_populates="film_work", cascade="all, delete-orphan", lazy="raise"
    )

    def __str__(self) -> str:
        return self.title


class Genre(Timestamped, Modified, Base):
    __tablename__ = "genre"
    __table_args__ = (
        UniqueConstraint("name"),
        Index("ix_genre_modified_id", "modified", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)

    films: Mapped[list[GenreFilmWork]] = relationship(
        back_populates="genre", cascade="all, delete-orphan", lazy="raise"
    )

    def __str__(self) -> str:
        return self.name


class Person(Timestamped, Modified, Base):
    __tablename__ = "person"
    __table_args__ = (
        Index("ix_person_modified_id", "modified", "id"),
        Index("ix_person_full_name", "full_name"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    full_name: Mapped[str] = mapped_column(Text, nullable=False)

    films: Mapped[list[PersonFilmWork]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="raise"
    )

    def __str__(self) -> str:
        return self.full_name


class GenreFilmWork(Timestamped, Base):
    __tablename__ = "genre_film_work"
    __table_args__ = (
        UniqueConstraint("film_work_id", "genre_id"),
        Index("ix_genre_film_work_genre_id", "genre_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    film_work_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.film_work.id", ondelete="CASCADE"), nullable=False
    )
    genre_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.genre.id", ondelete="CASCADE"), nullable=False
    )

    film_work: Mapped[FilmWork] = relationship(back_populates="genres", lazy="raise")
    genre: Mapped[Genre] = relationship(back_populates="films", lazy="raise")


class PersonFilmWork(Timestamped, Base):
    __tablename__ = "person_film_work"
    __table_args__ = (
        UniqueConstraint("film_work_id", "person_id", "role"),
        Index(
            "ix_person_film_work_person_id_film_work_id_role", "person_id", "film_work_id", "role"
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    film_work_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.film_work.id", ondelete="CASCADE"), nullable=False
    )
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.person.id", ondelete="CASCADE"), nullable=False
    )
    role: Mapped[PersonRole] = mapped_column(text_enum(PersonRole, "person_role"), nullable=False)

    film_work: Mapped[FilmWork] = relationship(back_populates="persons", lazy="raise")
    person: Mapped[Person] = relationship(back_populates="films", lazy="raise")


def analyze_catalog(connection: psycopg.Connection[Any]) -> None:
    """Refresh the planner's statistics after a bulk load (what the PostgreSQL docs advise).

    Until autovacuum gets to it, a freshly loaded catalog has none: the search documents'
    query then hashes every person once per film, minutes instead of seconds at 100k films.
    """
    tables = (FilmWork, Genre, Person, GenreFilmWork, PersonFilmWork)
    connection.execute(
        sql.SQL("ANALYZE {}").format(
            sql.SQL(", ").join(sql.Identifier(SCHEMA, model.__tablename__) for model in tables)
        )
    )
