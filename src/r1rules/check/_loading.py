"""The checked loader: rule files read, held to the engine's limits and the static checker."""

from __future__ import annotations

import copyreg
import functools
import os
from collections.abc import Callable

import attrs

from r1rules._errors import ERROR, Problem, RuleError
from r1rules.catalog import Catalog
from r1rules.check._run import capacity_findings, check_rules
from r1rules.ruleset import LoadOrigin, PathLike, RuleSet, read_rules

__all__ = ["default_rules", "load_rules"]


def load_rules(
    *paths: PathLike,
    include_shipped: bool = False,
    catalog: Catalog | None = None,
    check: bool = True,
) -> RuleSet:
    """Load and validate rule files.

    Each path is a ``.toml`` file or a folder whose top-level ``*.toml`` files are rule
    files and whose ``catalog/`` sub-folder (if any) holds catalog files: a full catalog
    (``models.toml`` and ``gpus.toml``, as in a copy of the shipped ``rules/``) replaces the
    shipped one; other files extend it. With no paths, or with ``include_shipped=True``,
    the shipped rules come first and the given files are layered on top of them. Every
    problem in every file is reported in one :class:`RuleError`, and so is a rule set too
    large for the engine.

    With ``check`` (the default), the static checker (gaps, overlaps, dead rules, conflicts;
    see ``r1rules check``) runs too: its errors refuse the rule set in the same RuleError,
    its warnings are kept on ``RuleSet.findings``.
    """
    origin = LoadOrigin(tuple(os.path.abspath(p) for p in paths), include_shipped, check, catalog)
    rules = attrs.evolve(
        read_rules(*paths, include_shipped=include_shipped, catalog=catalog), origin=origin
    )
    too_large = capacity_findings(rules)
    if too_large:
        raise RuleError(too_large)
    return _checked(rules) if check else rules


def _checked(rules: RuleSet) -> RuleSet:
    """Refuse a rule set the static checker finds errors in; keep its warnings."""
    findings = check_rules(rules)
    errors = [f for f in findings if f.severity == ERROR]
    if errors:
        raise RuleError(errors)
    return attrs.evolve(rules, findings=findings)


@functools.cache
def default_rules() -> RuleSet:
    """The shipped rule set, loaded and validated once per process; it cannot be changed
    (its facts are a read-only mapping, its tables and findings tuples)."""
    return load_rules()


def _reload(origin: LoadOrigin | None, version: str) -> RuleSet:
    """Unpickle a RuleSet by loading it again; refuses rule files that changed since."""
    if origin is None or (not origin.paths and origin.catalog is None and origin.check):
        rules = default_rules()
    else:
        rules = load_rules(
            *origin.paths,
            include_shipped=origin.include_shipped,
            catalog=origin.catalog,
            check=origin.check,
        )
    if rules.version != version:
        raise RuleError(
            [
                Problem(
                    message=f"rule files changed since this rule set was pickled "
                    f"(version {version[:12]} -> {rules.version[:12]})"
                )
            ]
        )
    return rules


def _reduce(rules: RuleSet) -> tuple[Callable[..., RuleSet], tuple[object, ...]]:
    # A RuleSet pickles as the load that made it: the compiled engine never crosses processes.
    return (_reload, (rules.origin, rules.version))


copyreg.pickle(RuleSet, _reduce)
