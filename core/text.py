"""Vietnamese text: stored NFC, compared and searched folded (no diacritics, đ → d)."""

from __future__ import annotations

import re
import unicodedata


def nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "").strip()


def fold(text: str | None) -> str:
    """Lower-case, no diacritics, đ → d: for matching headers, names and searches. Folding also
    makes old- and new-style tone placement (hoà / hòa) compare equal."""
    text = unicodedata.normalize("NFD", nfc(text).lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return text.replace("đ", "d")


def search_words(query: str | None, limit: int = 8) -> list[str]:
    """The folded words of a search query (at most `limit`, each at least one letter or digit)."""
    return [w for w in re.split(r"[^\w]+", fold(query)) if w][:limit]


def like_escape(word: str) -> str:
    """`word` for a LIKE pattern with `\\` as the escape character."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
