"""The Vietnamese catalogue is complete and matches the strings the code uses.

Vietnamese is the default UI language, so a msgid with no translation shows up as
English on a Vietnamese screen. These tests turn that into a red test:

* every entry of translations/vi/LC_MESSAGES/messages.po is translated, not fuzzy,
  NFC-normalised, and keeps exactly the %(name)s placeholders of its msgid;
* every string marked for translation in the code (Python and Jinja templates, using
  the same mapping as ``make extract-messages``) has an entry in the catalogue.

When the second test fails, run ``make extract-messages`` and translate the new entries.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO_FILE = ROOT / "translations" / "vi" / "LC_MESSAGES" / "messages.po"
BABEL_CFG = ROOT / "babel.cfg"

# Same keywords as `pybabel extract -k _l` (the defaults plus lazy gettext).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}
# `make extract-messages` ignores these; dot and cache folders hold no source either.
SKIP_DIRS = {".venv", "node_modules", "__pycache__"}

# A printf-style named placeholder with its conversion: %(n)s, %(count)d, %(x).2f ...
PLACEHOLDER = re.compile(r"%\([^)]*\)[#0 +-]*\d*(?:\.\d+)?[a-zA-Z]")


def _catalog():
    with PO_FILE.open("rb") as f:
        return read_po(f, locale="vi")


def _ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def _keep_dir(path: str) -> bool:
    name = os.path.basename(path)
    return name not in SKIP_DIRS and not name.startswith(".")


def test_every_entry_is_translated_and_keeps_its_placeholders():
    problems = []
    entries = [m for m in _catalog() if m.id]
    assert entries, f"{PO_FILE} has no entries"
    for m in entries:
        ids, strings = _ids(m), _strings(m)
        label = repr(ids[0])
        if m.fuzzy:
            problems.append(f"{label}: marked fuzzy")
        if not all(s and s.strip() for s in strings):
            problems.append(f"{label}: no Vietnamese translation")
            continue
        expected = set().union(*(_placeholders(i) for i in ids))
        for s in strings:
            got = _placeholders(s)
            if got != expected:
                problems.append(
                    f"{label}: placeholders {sorted(got)} in translation, "
                    f"expected {sorted(expected)}"
                )
            if unicodedata.normalize("NFC", s) != s:
                problems.append(f"{label}: translation is not NFC-normalised")
    assert not problems, "translations/vi messages.po:\n  " + "\n  ".join(problems)


def test_every_string_in_the_code_is_in_the_catalogue():
    with BABEL_CFG.open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, str(BABEL_CFG))
    known = {(m.context, i) for m in _catalog() if m.id for i in _ids(m)}

    missing: dict[tuple[str | None, str], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS,
        directory_filter=_keep_dir,
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid and (context, msgid) not in known:
                missing.setdefault((context, msgid), []).append(f"{filename}:{lineno}")

    if missing:
        lines = [f"{msgid!r} ({', '.join(where)})" for (_ctx, msgid), where in missing.items()]
        pytest.fail(
            f"{len(missing)} string(s) used in the code are missing from {PO_FILE.name}; "
            "run `make extract-messages` and translate them:\n  " + "\n  ".join(lines)
        )
