"""The admin's views: films (genres, credits and poster edited inline), genres, persons, audit.

Each view turns database refusals into form messages (`FormRefused`), records what changed on
`request.state` for the audit trail, and touches the film on every edit so the search sync
sees it.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import structlog
from markupsafe import Markup
from sqladmin import ModelView, expose
from sqladmin.filters import StaticValuesFilter
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from wtforms import Field, FloatField, Form, ValidationError

from kinoteka.catalog.admin.filters import GenreFilter, RatingBandFilter, YearFilter
from kinoteka.catalog.admin.forms import credit_rows, film_form_extras
from kinoteka.catalog.audit import AuditAction, AuditRecord
from kinoteka.catalog.models import (
    FilmType,
    FilmWork,
    Genre,
    GenreFilmWork,
    Person,
    PersonFilmWork,
    PersonRole,
)
from kinoteka.catalog.posters import (
    PosterRejected,
    check_poster_size,
    delete_poster,
    poster_url,
    store_poster,
)
from kinoteka.catalog.settings import PosterSettings
from kinoteka.infra.images import ImageWorkers
from kinoteka.infra.storage import ObjectStorage

log = structlog.get_logger(__name__)

AUDIT_REPR = "kinoteka_audit_repr"
AUDIT_CHANGES = "kinoteka_audit_changes"

CONSTRAINT_MESSAGES = {
    "uq_genre_name": "A genre with this name already exists.",
    "uq_person_film_work_film_work_id_person_id_role": "This person already has this role.",
    "uq_genre_film_work_film_work_id_genre_id": "A genre is listed twice on this film.",
    "ck_film_work_rating_range": "Rating must be between 0 and 10.",
}


class FormRefused(Exception):
    """A change the database or a check refused, phrased for the form."""


def refusal(error: IntegrityError) -> FormRefused:
    text = str(error.orig)
    for constraint, message in CONSTRAINT_MESSAGES.items():
        if constraint in text:
            return FormRefused(message)
    return FormRefused("The change conflicts with existing data and was not saved.")


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, PersonRole | FilmType) else value


class KinotekaView(ModelView):
    """A malformed id in a URL is a 404 page, not a server error."""

    def _stmt_by_identifier(self, identifier: str) -> Any:
        try:
            return super()._stmt_by_identifier(identifier)
        except ValueError:
            raise HTTPException(status_code=404, detail="No such object.") from None


class AuditedView(KinotekaView):
    """Keeps a readable name and the changed fields of each object for the audit entry."""

    audit_fields: ClassVar[tuple[str, ...]] = ()

    def _before(self, model: Any) -> dict[str, Any]:
        return {name: _plain(getattr(model, name, None)) for name in self.audit_fields}

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        setattr(request.state, AUDIT_CHANGES, None if is_created else self._before(model))

    async def after_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> Response | None:
        setattr(request.state, AUDIT_REPR, str(model))
        before: dict[str, Any] | None = getattr(request.state, AUDIT_CHANGES, None)
        after = self._before(model)
        extra = {key: value for key, value in data.items() if key not in self.audit_fields}
        data.clear()  # `data` is what the audit entry records: keep only what changed
        if before is None:
            data.update(after)
        else:
            data.update({k: [before[k], v] for k, v in after.items() if before[k] != v})
        data.update(extra)
        return None

    async def on_model_delete(self, model: Any, request: Request) -> None:
        setattr(request.state, AUDIT_REPR, str(model))

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        try:
            return await super().insert_model(request, data)
        except IntegrityError as error:
            raise refusal(error) from None

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        try:
            return await super().update_model(request, pk, data)
        except IntegrityError as error:
            raise refusal(error) from None

    async def _exists(self, statement: Any) -> bool:
        async with self.session_maker() as session:
            return (await session.scalar(statement)) is not None


def _thumbnail(model: FilmWork, attribute: str) -> Markup:
    url = poster_url(model.poster_key, 160)
    if url is None:
        return Markup('<span class="text-muted">—</span>')
    return Markup('<img src="{}" alt="poster" class="kinoteka-thumb" width="48">').format(url)


def _film_credits(model: FilmWork, attribute: str) -> list[str]:
    # One label per related row, in the relation's order (the details page zips them).
    return [f"{c.person.full_name} — {c.role.value}" for c in model.persons]


def _film_genres(model: FilmWork, attribute: str) -> list[str]:
    return [link.genre.name for link in model.genres]


class FilmAdmin(AuditedView, model=FilmWork):
    name = "Film"
    name_plural = "Films"
    icon = "fa-solid fa-film"
    page_size = 25
    page_size_options: ClassVar[list[int]] = [25, 50, 100]

    column_list: ClassVar[list[Any]] = [
        FilmWork.poster_key, FilmWork.title, FilmWork.type, FilmWork.creation_date,
        FilmWork.rating, FilmWork.modified,
    ]  # fmt: skip
    column_labels: ClassVar[dict[Any, str]] = {
        FilmWork.poster_key: "Poster", FilmWork.title: "Title", FilmWork.type: "Type",
        FilmWork.creation_date: "Released", FilmWork.rating: "Rating",
        FilmWork.description: "Description", FilmWork.genres: "Genres",
        FilmWork.persons: "Credits", FilmWork.created: "Created", FilmWork.modified: "Modified",
    }  # fmt: skip
    column_searchable_list: ClassVar[list[Any]] = [FilmWork.title]
    column_sortable_list: ClassVar[list[Any]] = [
        FilmWork.title, FilmWork.type, FilmWork.creation_date, FilmWork.rating, FilmWork.modified,
    ]  # fmt: skip
    column_default_sort: ClassVar[list[Any]] = [(FilmWork.modified, True)]
    column_filters: ClassVar[list[Any]] = [
        StaticValuesFilter(FilmWork.type, [(t.value, t.value.replace("_", " ")) for t in FilmType],
                           title="Type"),
        GenreFilter(), RatingBandFilter(), YearFilter(),
    ]  # fmt: skip
    column_formatters: ClassVar[dict[Any, Any]] = {FilmWork.poster_key: _thumbnail}
    column_details_list: ClassVar[list[Any]] = [
        FilmWork.poster_key, FilmWork.title, FilmWork.type, FilmWork.creation_date,
        FilmWork.rating, FilmWork.description, FilmWork.genres, FilmWork.persons,
        FilmWork.created, FilmWork.modified,
    ]  # fmt: skip
    column_formatters_detail: ClassVar[dict[Any, Any]] = {
        FilmWork.poster_key: _thumbnail, FilmWork.genres: _film_genres,
        FilmWork.persons: _film_credits,
    }  # fmt: skip
    form_columns: ClassVar[list[Any]] = [
        FilmWork.title, FilmWork.type, FilmWork.creation_date, FilmWork.rating,
        FilmWork.description,
    ]  # fmt: skip
    non_link_related_fields: ClassVar[list[Any]] = [FilmWork.genres, FilmWork.persons]
    form_overrides: ClassVar[dict[str, type[Field]]] = {"rating": FloatField}
    create_template = "kinoteka/film_create.html"
    edit_template = "kinoteka/film_edit.html"
    audit_fields = ("title", "type", "creation_date", "rating", "description", "poster_key")

    storage: ClassVar[ObjectStorage]
    posters: ClassVar[PosterSettings]
    images: ClassVar[ImageWorkers]

    def __init__(self) -> None:
        super().__init__()
        # Saving reconciles the film's genre links and credits: load them with it.
        self._form_relations = [FilmWork.genres, FilmWork.persons]

    def details_query(self, request: Request) -> Any:
        return self._stmt_by_identifier(request.path_params["pk"]).options(
            selectinload(FilmWork.genres).selectinload(GenreFilmWork.genre),
            selectinload(FilmWork.persons).selectinload(PersonFilmWork.person),
        )

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        base = await super().scaffold_form(rules)
        async with self.session_maker() as session:
            genres = (
                await session.execute(select(Genre.id, Genre.name).order_by(Genre.name))
            ).all()
        extras = film_form_extras([(str(genre_id), name) for genre_id, name in genres])

        def validate_rating(form: Form, field: Any) -> None:
            if field.data is not None and not 0 <= field.data <= 10:
                raise ValidationError("Rating must be between 0 and 10.")

        def validate_title(form: Form, field: Any) -> None:
            if not (field.data or "").strip():
                raise ValidationError("A film needs a title.")

        return type("FilmForm", (base,), {**extras, "validate_rating": validate_rating,
                                          "validate_title": validate_title})  # fmt: skip

    async def get_form_data_for_edit(self, obj: Any) -> dict[str, Any]:
        data = await super().get_form_data_for_edit(obj)
        data["type"] = _plain(obj.type)
        data["genres"] = [str(link.genre_id) for link in obj.genres]
        data["credits"] = credit_rows(
            [{"person": str(c.person_id), "role": c.role.value} for c in obj.persons]
        )
        return data

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        await super().on_model_change(data, model, is_created, request)
        genre_ids = {uuid.UUID(value) for value in data.pop("genres", None) or []}
        credits = {
            (uuid.UUID(row["person"]), PersonRole(row["role"]))
            for row in data.pop("credits", None) or []
            if row.get("person")
        }
        upload: UploadFile | str | None = data.pop("poster", None)
        remove = bool(data.pop("remove_poster", False))
        if model.id is None:
            model.id = uuid.uuid4()
        if credits:
            wanted = {person_id for person_id, _ in credits}
            async with self.session_maker() as session:
                found = set(await session.scalars(select(Person.id).where(Person.id.in_(wanted))))
            if wanted - found:
                raise FormRefused("A credited person no longer exists; pick them again.")
        if is_created:
            model.genres = [GenreFilmWork(genre_id=g) for g in sorted(genre_ids)]
            model.persons = [PersonFilmWork(person_id=p, role=r) for p, r in sorted(credits)]
        else:
            _reconcile(model, genre_ids, credits)
            model.modified = func.now()  # the search sync follows `modified`
        summary: dict[str, Any] = {
            "genres": sorted(str(g) for g in genre_ids),
            "credits": sorted(f"{p}:{r.value}" for p, r in credits),
        }
        old_key = model.poster_key
        if isinstance(upload, UploadFile) and upload.filename:
            try:
                # The multipart parser spooled the upload to disk; its size is known unread.
                check_poster_size(upload.size or 0, self.posters)
                data_bytes = await upload.read(self.posters.max_bytes + 1)
                new_key = await store_poster(
                    self.storage, model.id, data_bytes, self.posters, self.images
                )
            except PosterRejected as error:
                raise FormRefused(f"Poster refused: {error}") from None
            model.poster_key = new_key
            request.state.kinoteka_new_poster = new_key
            summary["poster"] = {"file": upload.filename, "key": new_key}
        elif remove and old_key:
            model.poster_key = None
            summary["poster"] = None
        if old_key and model.poster_key != old_key:
            request.state.kinoteka_old_poster = old_key
        data["_relations"] = summary

    async def _discard_new_poster(self, request: Request) -> None:
        new_key = getattr(request.state, "kinoteka_new_poster", None)
        if new_key:
            await delete_poster(self.storage, new_key, self.posters)

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        try:
            return await super().insert_model(request, data)
        except Exception:
            await self._discard_new_poster(request)
            raise

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        try:
            return await super().update_model(request, pk, data)
        except Exception:
            await self._discard_new_poster(request)
            raise

    async def after_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> Response | None:
        old_key = getattr(request.state, "kinoteka_old_poster", None)
        if old_key:
            await delete_poster(self.storage, old_key, self.posters)
        relations = data.pop("_relations", {})
        await super().after_model_change(data, model, is_created, request)
        data.update(relations)
        return None

    async def after_model_delete(self, model: Any, request: Request) -> None:
        if model.poster_key:
            await delete_poster(self.storage, model.poster_key, self.posters)

    async def person_names(self, ids: list[str]) -> dict[str, str]:
        """Names for the credit rows' person pickers."""
        valid = []
        for value in ids:
            try:
                valid.append(uuid.UUID(value))
            except (TypeError, ValueError):
                continue
        if not valid:
            return {}
        async with self.session_maker() as session:
            rows = await session.execute(
                select(Person.id, Person.full_name).where(Person.id.in_(valid))
            )
            return {str(person_id): name for person_id, name in rows}

    @expose("/person-lookup", methods=["GET"], include_in_schema=False)
    async def person_lookup(self, request: Request) -> Response:
        """Search persons by name for the credit rows (select2's `term`)."""
        term = (request.query_params.get("term") or "").strip()
        if not term:
            return JSONResponse({"results": []})
        async with self.session_maker() as session:
            rows = await session.execute(
                select(Person.id, Person.full_name)
                .where(Person.full_name.ilike(f"%{term}%"))
                .order_by(Person.full_name)
                .limit(20)
            )
            results = [{"id": str(person_id), "text": name} for person_id, name in rows]
        return JSONResponse({"results": results})


def _reconcile(
    model: FilmWork, genre_ids: set[uuid.UUID], credits: set[tuple[uuid.UUID, PersonRole]]
) -> None:
    """Make the loaded genre links and credits match the form, keeping rows that stay (a
    delete and re-insert of the same pair would trip the unique constraints)."""
    for link in list(model.genres):
        if link.genre_id not in genre_ids:
            model.genres.remove(link)
    present = {link.genre_id for link in model.genres}
    model.genres.extend(GenreFilmWork(genre_id=g) for g in sorted(genre_ids - present))

    for credit in list(model.persons):
        if (credit.person_id, credit.role) not in credits:
            model.persons.remove(credit)
    held = {(credit.person_id, credit.role) for credit in model.persons}
    model.persons.extend(PersonFilmWork(person_id=p, role=r) for p, r in sorted(credits - held))


class GenreAdmin(AuditedView, model=Genre):
    name = "Genre"
    name_plural = "Genres"
    icon = "fa-solid fa-masks-theater"
    column_list: ClassVar[list[Any]] = [Genre.name, Genre.description, Genre.modified]
    column_searchable_list: ClassVar[list[Any]] = [Genre.name]
    column_sortable_list: ClassVar[list[Any]] = [Genre.name, Genre.modified]
    column_default_sort: ClassVar[list[Any]] = [(Genre.name, False)]
    column_details_list: ClassVar[list[Any]] = [Genre.name, Genre.description, Genre.created,
                                                Genre.modified]  # fmt: skip
    form_columns: ClassVar[list[Any]] = [Genre.name, Genre.description]
    audit_fields = ("name", "description")

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        await super().on_model_change(data, model, is_created, request)
        name = (data.get("name") or "").strip()
        if not name:
            raise FormRefused("A genre needs a name.")
        data["name"] = name
        clash = select(Genre.id).where(func.lower(Genre.name) == name.lower())
        if model.id is not None:
            clash = clash.where(Genre.id != model.id)
        if await self._exists(clash.limit(1)):
            raise FormRefused(f"A genre named {name!r} already exists.")


def _person_films(model: Person, attribute: str) -> list[str]:
    return [f"{c.film_work.title} — {c.role.value}" for c in model.films]


class PersonAdmin(AuditedView, model=Person):
    name = "Person"
    name_plural = "Persons"
    icon = "fa-solid fa-user"
    column_list: ClassVar[list[Any]] = [Person.full_name, Person.modified]
    column_labels: ClassVar[dict[Any, str]] = {Person.films: "Films and roles"}
    column_searchable_list: ClassVar[list[Any]] = [Person.full_name]
    column_sortable_list: ClassVar[list[Any]] = [Person.full_name, Person.modified]
    column_default_sort: ClassVar[list[Any]] = [(Person.full_name, False)]
    column_details_list: ClassVar[list[Any]] = [Person.full_name, Person.films, Person.created,
                                                Person.modified]  # fmt: skip
    column_formatters_detail: ClassVar[dict[Any, Any]] = {Person.films: _person_films}
    non_link_related_fields: ClassVar[list[Any]] = [Person.films]
    form_columns: ClassVar[list[Any]] = [Person.full_name]
    audit_fields = ("full_name",)

    def details_query(self, request: Request) -> Any:
        return self._stmt_by_identifier(request.path_params["pk"]).options(
            selectinload(Person.films).selectinload(PersonFilmWork.film_work)
        )

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        await super().on_model_change(data, model, is_created, request)
        if not (data.get("full_name") or "").strip():
            raise FormRefused("A person needs a name.")


class AuditAdmin(KinotekaView, model=AuditRecord):
    """The audit trail, read-only."""

    name = "Audit entry"
    name_plural = "Audit trail"
    icon = "fa-solid fa-clock-rotate-left"
    can_create = False
    can_edit = False
    can_delete = False
    can_export = True
    page_size = 50
    column_list: ClassVar[list[Any]] = [
        AuditRecord.at, AuditRecord.actor_email, AuditRecord.action, AuditRecord.entity,
        AuditRecord.object_repr, AuditRecord.changes,
    ]  # fmt: skip
    column_labels: ClassVar[dict[Any, str]] = {
        AuditRecord.at: "When", AuditRecord.actor_email: "Who", AuditRecord.entity: "What",
        AuditRecord.object_repr: "Object",
    }  # fmt: skip
    column_searchable_list: ClassVar[list[Any]] = [AuditRecord.object_repr, AuditRecord.actor_email]
    column_sortable_list: ClassVar[list[Any]] = [AuditRecord.at, AuditRecord.entity]
    column_default_sort: ClassVar[list[Any]] = [(AuditRecord.at, True), (AuditRecord.id, True)]
    column_filters: ClassVar[list[Any]] = [
        StaticValuesFilter(
            AuditRecord.entity,
            [("film-work", "films"), ("genre", "genres"), ("person", "persons"),
             ("user", "accounts")],
            title="What",
        ),
        StaticValuesFilter(
            AuditRecord.action, [(a.value, a.value) for a in AuditAction], title="Action"
        ),
    ]  # fmt: skip
