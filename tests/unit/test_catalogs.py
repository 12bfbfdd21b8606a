"""The UI's catalogs (SPEC 14): every message marked in the sources (babel.cfg: the web layer's
Python and the templates, read here with Babel's extraction API, not from a committed .pot) has a
translation in Russian, Azerbaijani and Kazakh that is neither missing nor fuzzy, keeps the
message's placeholders and markup, and each catalog's header says a native speaker must review it
before production use."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from html.parser import HTMLParser
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
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "N_": None}
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


# -- Text left unmarked in the templates ---------------------------------------------------------

TEMPLATES = ROOT / "templates"
# PDFs print English (bilingual labels come from billing/invoicing/wording.py); mails have a file
# per language.
NOT_UI = ("pdf/", "mail/")
# Names and codes that read the same in every language.
SAME_IN_EVERY_LANGUAGE = frozenset(
    "PDF CSV API IBAN BIC SWIFT VAT ID URL UBL XML MRC NRC IRU SLA RFS DSO FX OK HTTP HTTPS JSON "
    "SMTP MTTR UTC SHA TCF GHz THz nm km AZT KTC USD EUR AZN KZT Trans-Caspian Fiber Stripe "
    "English Русский Azərbaycanca Қазақша Message-ID List-Unsubscribe".split()
)
JINJA = re.compile(r"\{%-?\s*trans\b.*?endtrans\s*-?%\}|\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[a-z][A-Za-z'’-]*")
SHOWN_ATTRIBUTES = frozenset({"title", "alt", "aria-label", "placeholder", "data-confirm"})


class _ShownText(HTMLParser):
    """The words a person reads in a template once its Jinja parts (marked messages and values)
    are taken out: text outside script and style, and the attributes a browser shows. Text in
    an element with a `lang` of its own (below <html>) is in that language on purpose."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._hidden = 0
        self._own_language: list[str] = []

    def _note(self, text: str) -> None:
        words = [w for w in WORD.findall(text) if w not in SAME_IN_EVERY_LANGUAGE]
        if words:
            self.found.append((self.getpos()[0], " ".join(words)))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        if tag != "html" and dict(attrs).get("lang"):
            self._own_language.append(tag)
        kind = dict(attrs).get("type")
        for name, value in attrs:
            if value and (
                name in SHOWN_ATTRIBUTES
                or (tag == "input" and name == "value" and kind in ("submit", "button"))
            ):
                self._note(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)
        if self._own_language and self._own_language[-1] == tag:
            self._own_language.pop()

    def handle_data(self, data: str) -> None:
        if not self._hidden and not self._own_language:
            self._note(data)


def _unmarked(path: Path) -> list[tuple[int, str]]:
    source = path.read_text(encoding="utf-8")
    # Each Jinja part becomes a blank that keeps its line breaks (line numbers stay right).
    bare = JINJA.sub(lambda m: " " + "\n" * m.group(0).count("\n"), source)
    parser = _ShownText()
    parser.feed(bare)
    parser.close()
    return parser.found


def test_no_text_a_person_reads_in_a_template_is_left_unmarked() -> None:
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {words}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        if not str(path.relative_to(TEMPLATES)).startswith(NOT_UI)
        for line, words in _unmarked(path)
    ]
    assert not problems, "text not marked for translation:\n" + "\n".join(problems)


def _literal_words(node: ast.expr) -> list[str]:
    """The words of an English literal (a string or an f-string's text) not marked for
    translation; none for a call such as _() or anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = " ".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
    else:
        return []
    return [w for w in WORD.findall(text) if w not in SAME_IN_EVERY_LANGUAGE]


def test_no_message_a_person_reads_in_the_web_layer_is_left_unmarked() -> None:
    """Flash messages, error pages' descriptions and form fields' labels are marked."""
    problems = []
    for path in sorted(
        [*(ROOT / "billing" / "web").glob("*.py"), ROOT / "billing" / "http_errors.py"]
    ):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            shown = [kw.value for kw in node.keywords if kw.arg in ("description", "label")]
            if node.args and (name == "flash" or name.endswith("Field")):
                shown.append(node.args[0])
            for value in shown:
                if words := _literal_words(value):
                    problems.append(f"{path.relative_to(ROOT)}:{value.lineno}: {' '.join(words)}")
    assert not problems, "messages not marked for translation:\n" + "\n".join(problems)


def _domain_errors() -> frozenset[str]:
    """The names of billing's DomainError classes (their messages reach the pages)."""
    import importlib
    import pkgutil

    import billing
    from billing.errors import DomainError

    for module in pkgutil.walk_packages(billing.__path__, "billing."):
        importlib.import_module(module.name)  # every subclass is then known

    found: set[str] = set()
    waiting = [DomainError]
    while waiting:
        kind = waiting.pop()
        found.add(kind.__name__)
        waiting.extend(kind.__subclasses__())
    return frozenset(found)


def _unmarked_message(node: ast.expr) -> bool:
    """A message given as English text rather than a template marked N_ (or a Text made from
    one): a literal, an f-string, or text formatted with % or .format() or joined with +."""
    if isinstance(node, ast.Call):
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if name in ("N_", "Text"):
            return False
        return name == "format" or any(_unmarked_message(a) for a in node.args)
    if isinstance(node, ast.BinOp):
        return True
    if isinstance(node, ast.IfExp):
        return _unmarked_message(node.body) or _unmarked_message(node.orelse)
    return isinstance(node, (ast.Constant, ast.JoinedStr)) and bool(_literal_words(node))


def _field_messages(node: ast.expr) -> list[ast.expr]:
    """The messages of an `errors` argument written out as a dict: {field: message or [..]}."""
    if not isinstance(node, ast.Dict):
        return []
    found: list[ast.expr] = []
    for value in node.values:
        found.extend(value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value])
    return found


# The API and the CLI speak English (SPEC 14): what they alone raise needs no catalog entry.
ENGLISH_ONLY = ("billing/api/", "billing/cli.py", "billing/cli_errors.py")


def test_every_domain_error_a_page_shows_is_a_marked_template() -> None:
    """A DomainError's message and its field messages are templates marked N_ with their values
    named (billing/errors.py), so that the pages say them in their language; never English text
    put together before it is raised."""
    kinds = _domain_errors() | {"InvalidValueError", "Text"}
    problems = []
    for path in sorted((ROOT / "billing").rglob("*.py")):
        if path.relative_to(ROOT).as_posix().startswith(ENGLISH_ONLY):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            if getattr(node.func, "id", getattr(node.func, "attr", "")) not in kinds:
                continue
            messages = [*node.args[:1], *(kw.value for kw in node.keywords if kw.arg == "message")]
            errors = [*node.args[1:2], *(kw.value for kw in node.keywords if kw.arg == "errors")]
            for errors_node in errors:
                messages.extend(_field_messages(errors_node))
            for message in messages:
                if _unmarked_message(message):
                    problems.append(f"{path.relative_to(ROOT)}:{message.lineno}")
    assert not problems, "domain errors raised with unmarked messages:\n" + "\n".join(problems)
