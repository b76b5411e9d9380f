"""Files the app keeps on disk (delegates' photos, congress documents)."""

from __future__ import annotations

import secrets
from pathlib import Path


def store_new_file(folder: Path, data: bytes, extension: str, *, token_bytes: int = 24) -> str:
    """Write `data` into `folder` under a new random name ending in `extension`, whole or not
    at all (written aside, then renamed), and return that name. The name says nothing about
    the content or its owner, and cannot be guessed."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_urlsafe(token_bytes)}{extension}"
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(data)
    tmp.replace(folder / name)
    return name
