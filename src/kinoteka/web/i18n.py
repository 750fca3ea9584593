"""UI languages: gettext catalogs (`i18n/<locale>/LC_MESSAGES/messages.po`) compiled by Babel.

The `.po` files are the source; they are compiled in memory the first time a language is used,
so no `.mo` file is built or committed. The language comes from the `kinoteka_lang` cookie
(the switch in the footer) or else from `Accept-Language`.
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.requests import Request

CATALOGS = Path(__file__).resolve().parent / "i18n"
LOCALES = ("en", "ru")
LANG_COOKIE = "kinoteka_lang"


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalog of `locale` (English is the source language: no catalog)."""
    path = CATALOGS / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _accepted(header: str) -> list[str]:
    """`Accept-Language` as language tags, most wanted first (q=0 dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def choose_locale(request: Request, default: str) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return chosen
    accepted = _accepted(request.headers.get("accept-language", ""))
    found = negotiate_locale(accepted, list(LOCALES), sep="-") if accepted else None
    return found or (default if default in LOCALES else LOCALES[0])


@dataclass(frozen=True)
class Strings:
    """The UI strings of one language, as templates and handlers call them."""

    locale: str

    def gettext(self, message: str, **values: object) -> str:
        text = translations(self.locale).gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = translations(self.locale).ngettext(singular, plural, n)
        return text % {"num": n, **values}

    def language_name(self, locale: str) -> str:
        return _own_name(locale)


@cache
def _own_name(locale: str) -> str:
    """A language's name in itself (the same on every page: parsed once)."""
    return Locale.parse(locale).get_display_name(locale) or locale


def language_menu() -> list[tuple[str, str]]:
    """The language switch: each UI language by its own name."""
    return [(code, _own_name(code)) for code in LOCALES]


def N_(message: str) -> str:
    """Marks a string for the catalog where it is defined; it is translated where shown."""
    return message
