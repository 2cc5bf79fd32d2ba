"""The r1rules command: evaluate, check, sweep."""

from r1rules.cli._main import console, main

__all__ = ["console", "main"]
