"""Problems between the engine tables of a catalog: engine ids, profiles of engines or vendors
that do not exist, a misspelt profile architecture, two profiles of one GPU kind, and catalog
GPUs an engine has no profile for (``_load`` reports them with the entries' own problems)."""

from __future__ import annotations

from collections.abc import Sequence

from r1rules._errors import Problem, ProblemKind, suggest
from r1rules._vocabulary import ENGINES
from r1rules.catalog._engines import EntryLike, profile_kind

__all__ = ["engine_table_problems"]


def engine_table_problems(
    engines: Sequence[EntryLike], profiles: Sequence[EntryLike], gpus: Sequence[EntryLike]
) -> list[Problem]:
    """Problems between the tables: unknown engine ids, an engine of the vocabulary without
    an entry, a profile of an engine without one or of a vendor it does not run on, a
    profile of an architecture no catalog GPU has but one is spelt like, two profiles of one
    GPU kind, and a catalog GPU an engine runs on without a profile."""
    out: list[Problem] = []
    unknown, invalid, load = ProblemKind.UNKNOWN_NAME, ProblemKind.INVALID, ProblemKind.LOAD
    defined = {e.id: e for e in engines}
    for e in engines:
        if e.id not in ENGINES:
            message = f"unknown engine{suggest(e.id, ENGINES)}; allowed: {', '.join(ENGINES)}"
            out.append(
                Problem(kind=unknown, file=e.file, entry=f"engine {e.id!r}", message=message)
            )
    if engines:
        out += [
            Problem(
                kind=load,
                entry=f"engine {name!r}",
                message="no [engines] entry: every engine of the vocabulary needs one",
            )
            for name in ENGINES
            if name not in defined
        ]
    served = {
        profile_kind(g.fields["vendor"], g.fields["segment"], g.fields.get("architecture"))
        for g in gpus
    }
    kinds: dict[tuple[str, str], EntryLike] = {}
    for p in profiles:
        name, vendor, segment = p.fields["engine"], p.fields["vendor"], p.fields["segment"]
        kind = profile_kind(vendor, segment, p.fields.get("architecture"))
        where = f"engine profile {p.id!r}"
        engine = defined.get(name)
        if engine is None:
            message = f"engine {name!r} has no [engines.{name}] entry"
            out.append(
                Problem(kind=unknown, file=p.file, entry=where, key_path="engine", message=message)
            )
        elif engine.fields["vendors"] and vendor not in engine.fields["vendors"]:
            message = (
                f"{name!r} runs only on {', '.join(engine.fields['vendors'])} GPUs "
                f"(its vendors); a {vendor} profile would never be used"
            )
            out.append(
                Problem(kind=invalid, file=p.file, entry=where, key_path="vendor", message=message)
            )
        arch = p.fields.get("architecture")
        have = sorted({k.split()[-1] for k in served if k.startswith(f"{vendor} {segment} ")})
        if arch and kind not in served and suggest(arch, have):
            # a misspelt architecture (a catalog without such GPUs at all is no mistake:
            # the shipped Hopper profile stays when a custom catalog has no Hopper GPU)
            message = (
                f"no catalog GPU is of vendor {vendor}, segment {segment} and architecture "
                f"{arch!r}: the profile would never be used"
                f"{suggest(arch, have)}; architectures of {vendor} {segment} GPUs: "
                f"{', '.join(have) or 'none stated'}"
            )
            out.append(
                Problem(
                    kind=invalid, file=p.file, entry=where, key_path="architecture", message=message
                )
            )
        earlier = kinds.setdefault((name, kind), p)
        if earlier is not p:
            message = (
                f"{name!r} on {kind} GPUs is already profiled by "
                f"{earlier.id!r} ({earlier.file}); one profile per GPU kind"
            )
            out.append(Problem(kind=load, file=p.file, entry=where, message=message))
    for e in (e for e in engines if e.id in ENGINES):
        vendors, fallback = e.fields["vendors"], e.fields["fallback_vendor"]
        missing: dict[str, list[str]] = {}
        for g in gpus:
            vendor, segment = g.fields["vendor"], g.fields["segment"]
            if vendors and vendor not in vendors:
                continue
            if (e.id, f"{vendor} {segment}") not in kinds and (
                e.id,
                f"{fallback} {segment}",
            ) not in kinds:
                missing.setdefault(f"{vendor} {segment}", []).append(g.id)
        for kind, ids in missing.items():
            message = (
                f"no profile for {kind} GPUs ({', '.join(ids)}) nor for the fallback "
                f"vendor {fallback} of that segment"
            )
            out.append(
                Problem(
                    kind=load,
                    file=e.file,
                    entry=f"engine {e.id!r}",
                    key_path="fallback_vendor",
                    message=message,
                )
            )
    return out
