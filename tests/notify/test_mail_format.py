"""The MIME bytes `build_message` writes itself: any subject and bodies read back the same
through the standard library's parser, with CRLF line ends and lines SMTP accepts."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinoteka.notify.mail import MailError, build_message

# What the editors' forms let through: no control characters in a subject line.
LINE = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=300)
BODY = st.text(st.characters(blacklist_categories=["Cs"]), max_size=3000)


def _parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# No deadline: the machines running the tests are shared, and a slow example is no failure.
@settings(deadline=None)
@given(subject=LINE, text=BODY, html=BODY)
def test_any_subject_and_bodies_read_back(subject: str, text: str, html: str) -> None:
    mail = build_message(
        sender="Кинотека <no-reply@kinoteka.local>", recipient="viewer@example.com",
        subject=subject, text=text, html=html, message_id="<m1@kinoteka>",
        headers={"List-Unsubscribe": "<http://testserver/u?token=" + "x" * 200 + ">"},
    )  # fmt: skip
    assert b"\n" not in mail.data.replace(b"\r\n", b"")  # CRLF only
    assert max(len(line) for line in mail.data.split(b"\r\n")) <= 998
    parsed = _parse(mail.data)
    assert parsed["Subject"] == " ".join(subject.split()) or parsed["Subject"] == subject
    assert parsed["From"] == "Кинотека <no-reply@kinoteka.local>"
    assert parsed["Message-ID"] == "<m1@kinoteka>"
    assert parsed["List-Unsubscribe"].endswith("x>")
    plain, rich = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert isinstance(plain, EmailMessage)
    assert isinstance(rich, EmailMessage)
    assert plain.get_content() == text
    assert rich.get_content() == html
    assert (mail.sender, mail.recipient) == ("no-reply@kinoteka.local", "viewer@example.com")


def test_a_line_break_in_an_address_is_refused_not_written() -> None:
    with pytest.raises(MailError, match="line break"):
        build_message(sender="Kinoteka <no-reply@kinoteka.local>",
                      recipient="viewer@example.com\r\nBcc: everyone@example.com",
                      subject="s", text="t", html="h")  # fmt: skip
    folded = build_message(sender="Kinoteka <no-reply@kinoteka.local>",
                           recipient="viewer@example.com", subject="s\r\nBcc: x@example.com",
                           text="t", html="h")  # fmt: skip
    assert b"\r\nBcc:" not in folded.data
