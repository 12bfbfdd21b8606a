"""The UI's catalogs (SPEC 14): every message marked in the sources (babel.cfg: the web layer's
Python and the templates, read here with Babel's extraction API, not from a committed .pot) has a
translation in Russian, Azerbaijani and Kazakh that is neither missing nor fuzzy, keeps the
message's placeholders and markup, and each catalog's header says a native speaker must review it
before production use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "billing" / "translations"
LANGUAGES = ("ru", "az", "kk")
REVIEW_NOTE = "a native speaker must review this catalog before production use"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")
TAG = re.compile(r"</?([a-z]+)[^>]*>")


def _sources() -> Iterator[tuple[str, Any, str, str]]:
    """(file, message id, kind, context) of every message babel.cfg's sources mark."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        if isinstance(message, tuple) and len(message) > 1 and message[1]:
            yield filename, message[:2], "plural", ""
        else:
            single = message[0] if isinstance(message, tuple) else message
            if single:
                yield filename, single, "single", ""


@pytest.fixture(scope="module")
def marked() -> dict[Any, str]:
    found: dict[Any, str] = {}
    for filename, message, _kind, _ in _sources():
        found.setdefault(message, filename)
    return found


def _catalog(language: str) -> Catalog:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=language)


def test_the_sources_mark_the_shared_pages_strings(marked: dict[Any, str]) -> None:
    # The base layout, the login page and the Python side (flash, form labels) are all read.
    for message in ("Skip to content", "Log in", "You are logged out.", "Email"):
        assert message in marked, message
    assert ("%(num)d payment", "%(num)d payments") in marked


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_marked_message_is_translated_and_not_fuzzy(
    language: str, marked: dict[Any, str]
) -> None:
    catalog = _catalog(language)
    problems = []
    for message, source in sorted(marked.items(), key=lambda item: str(item[0])):
        key = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(key)
        if entry is None:
            problems.append(f"missing: {message!r} ({source})")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {message!r} ({source})")
        elif isinstance(message, tuple) and not (
            isinstance(entry.string, tuple)
            and len(entry.string) == catalog.num_plurals
            and all(entry.string)
        ):
            problems.append(f"plural forms missing: {message!r} ({source})")
        elif not isinstance(message, tuple) and not entry.string:
            problems.append(f"untranslated: {message!r} ({source})")
    assert not problems, f"{language}: " + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders_and_markup(language: str) -> None:
    problems = []
    for entry in _catalog(language):
        if not entry.id or not entry.string:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1])) | set(PLACEHOLDER.findall(ids[0]))
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != wanted:
                problems.append(f"placeholders differ: {entry.id!r} -> {text!r}")
            if sorted(TAG.findall(text)) != sorted(TAG.findall(ids[0])):
                problems.append(f"markup differs: {entry.id!r} -> {text!r}")
    assert not problems, f"{language}: " + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalog_says_a_native_speaker_must_review_it(language: str) -> None:
    catalog = _catalog(language)
    header = " ".join(catalog.header_comment.split()).lower()
    assert REVIEW_NOTE in header, f"{language}: the header lacks the review note"
    assert str(catalog.locale) == language


@pytest.mark.parametrize("language", LANGUAGES)
def test_azerbaijani_is_latin_and_kazakh_cyrillic_with_their_own_letters(language: str) -> None:
    text = " ".join(
        " ".join(e.string) if isinstance(e.string, tuple) else e.string
        for e in _catalog(language)
        if e.id
    )
    if language == "az":
        assert not re.search(r"[\u0400-\u04ff]", text), "Cyrillic in the Azerbaijani catalog"
        assert set("əğışçöü") <= set(text.lower())
    elif language == "kk":
        assert set("әғқңөұүі") <= set(text.lower())
    else:
        assert "ё" in text or "е" in text
