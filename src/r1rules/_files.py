"""Reading the TOML input files of the command (workloads, sweep grids) with clear errors."""

from __future__ import annotations

import os
from typing import Any

import tomli

from r1rules._errors import WorkloadError

__all__ = ["read_toml"]


def read_toml(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """The parsed file; WorkloadError naming the file when it cannot be read or parsed."""
    try:
        with open(path, "rb") as handle:
            return tomli.load(handle)
    except OSError as exc:
        raise WorkloadError(f"cannot read {what} file {path}: {exc.strerror}") from None
    except tomli.TOMLDecodeError as exc:
        raise WorkloadError(f"{path}: invalid TOML: {exc}") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise WorkloadError(f"{path}: invalid TOML: {type(exc).__name__}") from None
