"""Every UI string of the pages has its Russian translation in the catalog."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from kinoteka.web.i18n import CATALOGS

WEB = CATALOGS.parent
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]


def test_every_string_of_the_pages_is_translated_to_russian() -> None:
    with (CATALOGS / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale="ru")
    found = {
        (message if isinstance(message, str) else message[0]): filename
        for filename, _, message, _, _ in extract_from_dir(
            str(WEB), METHODS, keywords=KEYWORDS, options_map={"**/templates/**.html": {}}
        )
    }
    assert len(found) > 150
    missing = []
    for message_id, filename in sorted(found.items()):
        entry = catalog.get(message_id)
        strings = [] if entry is None or entry.string is None else entry.string
        strings = [strings] if isinstance(strings, str) else list(strings)
        if not strings or not all(strings):
            missing.append(f"{filename}: {message_id!r}")
    assert not missing, "\n".join(missing)
