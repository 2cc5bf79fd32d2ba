"""Engine release numbers: what a profile's ``since`` holds, read from a version text."""

from __future__ import annotations

import re

__all__ = ["RELEASE", "release"]

# A release number as a profile states it: "0.5", "0.21", "1.0.2".
RELEASE = re.compile(r"\d+(\.\d+)*")
_RELEASE_IN_TEXT = re.compile(r"(?<![\w.])v?(\d+\.\d+(?:\.\d+)?)")


def release(version: str) -> tuple[int, ...] | None:
    """The release number a version text starts with ("v0.21.0rc2 (built from source)" ->
    (0, 21, 0); "0.17.post1.dev" -> (0, 17)), or None when it names none ("unknown")."""
    found = _RELEASE_IN_TEXT.match(version.strip())
    return tuple(int(part) for part in found.group(1).split(".")) if found else None
