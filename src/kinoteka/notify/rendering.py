"""Messages rendered from Jinja2 templates: a subject, a text body and an HTML body, per locale.

Each kind has one template per locale (`templates/<locale>/<kind>.j2`) with the blocks
`subject`, `text` and `html`; the text blocks turn autoescaping off, the HTML block keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from kinoteka.notify.models import Kind

LOCALES = ("en", "ru")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("kinoteka.notify", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )


def pick_locale(locale: str | None, default: str = "en") -> str:
    """`ru-RU` → `ru`; anything not translated → `default`."""
    language = (locale or "").split("-")[0].split("_")[0].lower()
    return language if language in LOCALES else default


def render(kind: Kind, locale: str, values: dict[str, Any]) -> Rendered:
    template = _environment().get_template(f"{pick_locale(locale)}/{kind.value}.j2")
    context = template.new_context(values)

    def block(name: str) -> str:
        return "".join(template.blocks[name](context)).strip()

    return Rendered(subject=" ".join(block("subject").split()), text=block("text"),
                    html=block("html"))  # fmt: skip
