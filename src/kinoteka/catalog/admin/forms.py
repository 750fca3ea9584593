"""Form parts the film editor adds to SQLAdmin's scaffolded form: genres, credits, poster."""

from __future__ import annotations

import uuid
from typing import Any

from wtforms import (
    BooleanField,
    FieldList,
    FileField,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    StringField,
    ValidationError,
)

from kinoteka.catalog.models import PersonRole

BLANK_CREDIT_ROWS = 3


class CreditForm(Form):
    """One credit row: a person (picked by search) in a role. A row without a person is
    ignored."""

    person = StringField("Person")
    role = SelectField(
        "Role",
        choices=[(role.value, role.value.replace("_", " ")) for role in PersonRole],
        validate_choice=False,  # checked below, and only on rows that name a person
    )

    def validate_role(self, field: SelectField) -> None:
        if self.person.data and field.data not in {role.value for role in PersonRole}:
            raise ValidationError("Pick a role from the list.")

    def validate_person(self, field: StringField) -> None:
        if field.data:
            try:
                uuid.UUID(str(field.data))
            except ValueError:
                raise ValidationError("Pick a person from the search results.") from None


def _no_duplicate_credits(form: Form, field: FieldList[Any]) -> None:
    seen: set[tuple[str, str]] = set()
    for entry in field.entries:
        person, role = entry.form.person.data, entry.form.role.data
        if not person:
            continue
        if (person, role) in seen:
            raise ValidationError(f"The same person is credited twice as {role}.")
        seen.add((person, role))


def film_form_extras(genre_choices: list[tuple[str, str]]) -> dict[str, Any]:
    """The unbound fields added to the film form, with the genres known now."""
    return {
        "genres": SelectMultipleField(
            "Genres", choices=genre_choices, description="Hold Ctrl/Cmd to pick several."
        ),
        "credits": FieldList(
            FormField(CreditForm),
            "Credits",
            min_entries=BLANK_CREDIT_ROWS,
            validators=[_no_duplicate_credits],
        ),
        "poster": FileField(
            "Poster", description="JPEG, PNG or WebP; re-encoded to WebP at a few widths."
        ),
        "remove_poster": BooleanField("Remove the poster"),
    }


def credit_rows(credits: list[dict[str, str]]) -> list[dict[str, str]]:
    """Existing credits plus a few blank rows to add new ones."""
    blank = {"person": "", "role": PersonRole.ACTOR.value}
    return [*credits, *([blank] * BLANK_CREDIT_ROWS)]
