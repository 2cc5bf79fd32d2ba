"""Sweeps: a grid of workload fields -> one row per combination, as CSV or JSON Lines.

A grid is fixed Workload fields plus axes (a field and its values); its points are every
combination of the axes' values, the last axis varying fastest. A point that is not a valid
Workload (tokens beyond a model's context, a GPU too small to ever hold the model...)
becomes a row with an ``error`` instead of stopping the sweep.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from r1rules._errors import R1RulesError, WorkloadError, suggest
from r1rules._files import read_toml
from r1rules._workload import Workload
from r1rules.cli._limits import beyond_any_deployment
from r1rules.recommend import Recommendation

__all__ = [
    "FIELDS",
    "RESULT_COLUMNS",
    "Grid",
    "RowWriter",
    "load_grid",
    "parse_option",
    "parse_value",
    "point_row",
    "read_rows",
    "row_key",
    "summarise",
]

# Workload fields in the order a planner reads them (the README's table), then any other.
_READING_ORDER = (
    "model",
    "params_b",
    "precision",
    "kv_cache_precision",
    "gpu",
    "peak_qps",
    "latency_ms",
    "prompt_tokens",
    "output_tokens",
    "stage",
    "budget_usd",
)
# A fleet the user has (gpu_count) is not sized: a sweep plans purchases.
FIELDS = tuple(
    sorted(
        (a.name for a in attrs.fields(Workload) if a.name != "gpu_count"),
        key=lambda n: ((*_READING_ORDER, n)).index(n),
    )
)
# An input whose column would clash with a result column of the same name: the target
# tpot_ms is the column tpot_target_ms (tpot_ms is the estimate, as in to_row()).
_COLUMN_OF = {"tpot_ms": "tpot_target_ms"}
_TOKEN_FIELDS = frozenset({"prompt_tokens", "output_tokens", "gpu_count"})
_NUMBER_FIELDS = frozenset(
    {
        "peak_qps",
        "latency_ms",
        "params_b",
        "budget_usd",
        "concurrent_requests",
        "tpot_ms",
        "request_overhead_ms",
    }
)
# The string that stands for "no value" (TOML has no null): an unpinned GPU, no budget.
NONE = "none"
RESULT_COLUMNS = (
    "edition",
    "gpu_id",
    "gpu_count",
    "gpus_per_node",
    "nodes",
    "tensor_parallel",
    "pipeline_parallel",
    "layout",
    "replicas",
    "weights_gb",
    "kv_cache_gb",
    "total_memory_gb",
    "memory_per_gpu_gb",
    "ttft_ms",
    "tpot_ms",
    "throughput_tokens_per_s",
    "max_concurrency",
    "meets_latency",
    "meets_targets",
    "capital_usd",
    "onprem_usd_per_hour",
    "usd_per_million_tokens",
    "within_budget",
    "warnings",
    "warning_rules",
    "error",
    "ruleset_version",
)
# The columns a sweep row takes as they are from Recommendation.to_row() (the one flat row:
# same names, units and meaning; r1rules.recommend.ROW_COLUMNS documents them).
FROM_TO_ROW = (
    "edition",
    "gpu_count",
    "gpus_per_node",
    "nodes",
    "layout",
    "replicas",
    "ttft_ms",
    "tpot_ms",
    "meets_targets",
    "capital_usd",
    "onprem_usd_per_hour",
    "usd_per_million_tokens",
    "within_budget",
    "warning_rules",
)


@attrs.frozen
class Grid:
    """Fixed workload fields and axes; ``points()`` yields every combination in order."""

    fixed: Mapping[str, object] = attrs.field(factory=dict)
    axes: tuple[tuple[str, tuple[object, ...]], ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """The input columns of a row: every field the grid sets, in Workload order."""
        named = set(self.fixed) | {name for name, _ in self.axes}
        return tuple(_COLUMN_OF.get(f, f) for f in FIELDS if f in named)

    @property
    def size(self) -> int:
        return math.prod(len(values) for _, values in self.axes)

    def points(self) -> Iterator[dict[str, object]]:
        """Every combination (a dict of field values); cost O(size), values yielded lazily."""
        names = [name for name, _ in self.axes]
        for combination in itertools.product(*(values for _, values in self.axes)):
            point = dict(self.fixed)
            point.update(zip(names, combination, strict=True))
            yield point

    def with_values(self, name: str, values: Sequence[object]) -> Grid:
        """This grid with ``name`` set to ``values`` (one value: fixed; several: an axis)."""
        _check_field(name, "option")
        fixed = {k: v for k, v in self.fixed.items() if k != name}
        axes = [(k, v) for k, v in self.axes if k != name]
        if len(values) == 1:
            fixed[name] = values[0]
        else:
            axes.append((name, tuple(values)))
        return Grid(fixed, tuple(axes))


def point_row(point: Mapping[str, object]) -> dict[str, object]:
    """A grid point's values under their row columns (``tpot_ms`` is ``tpot_target_ms``)."""
    return {_COLUMN_OF.get(name, name): value for name, value in point.items()}


def _check_field(name: str, where: str) -> None:
    if name == "gpu_count":
        raise WorkloadError(
            f"{where}: gpu_count describes a fleet you have (r1rules evaluate --gpu G "
            "--gpu-count N says what it carries); a sweep sizes deployments to buy"
        )
    if name not in FIELDS:
        raise WorkloadError(
            f"{where}: unknown workload field {name!r}{suggest(name, FIELDS)};"
            f" allowed: {', '.join(FIELDS)}"
        )


def _plain(value: object, where: str) -> object:
    """A TOML value as a workload field value: ``"none"`` is None; scalars only."""
    if isinstance(value, str) and value.lower() == NONE:
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    raise WorkloadError(f"{where}: expected a string or a number, not {type(value).__name__}")


def load_grid(path: str | Path) -> Grid:
    """A grid from a TOML file: ``[workload]`` fixed fields, ``[grid]`` axes (arrays).

    A scalar in ``[grid]`` is a one-value axis; ``"none"`` stands for no value (an
    unpinned GPU, no budget). Raises WorkloadError naming the file and key.
    """
    data = read_toml(path, "grid")
    for key in data:
        if key not in ("workload", "grid"):
            raise WorkloadError(
                f"{path}: unknown section {key!r}"
                f"{suggest(key, ('workload', 'grid'))}; allowed: workload, grid"
            )
    fixed_raw, axes_raw = data.get("workload", {}), data.get("grid", {})
    for section, value in (("workload", fixed_raw), ("grid", axes_raw)):
        if not isinstance(value, dict):
            raise WorkloadError(f"{path}: [{section}] must be a table")
    fixed: dict[str, object] = {}
    for name, value in fixed_raw.items():
        _check_field(name, f"{path}: workload.{name}")
        fixed[name] = _plain(value, f"{path}: workload.{name}")
    axes: list[tuple[str, tuple[object, ...]]] = []
    for name, values in axes_raw.items():
        where = f"{path}: grid.{name}"
        _check_field(name, where)
        if name in fixed:
            raise WorkloadError(f"{where}: also given in [workload]; give it in one place")
        values = values if isinstance(values, list) else [values]
        if not values:
            raise WorkloadError(f"{where}: needs at least one value")
        axes.append((name, tuple(_plain(v, f"{where}[{i}]") for i, v in enumerate(values))))
    return Grid(fixed, tuple(axes))


def parse_value(name: str, text: str, label: str) -> object:
    """One command-line value as the type the Workload field takes; ``none`` is None.

    ``label`` names the input in the error (the field, or the option it came from)."""
    if text.lower() in (NONE, ""):
        return None
    if name in _TOKEN_FIELDS or name in _NUMBER_FIELDS:
        try:
            return int(text) if name in _TOKEN_FIELDS else float(text)
        except ValueError:
            kind = "a number"
            if name in _TOKEN_FIELDS:
                kind = (
                    "a whole number of GPUs" if name == "gpu_count" else "a whole number of tokens"
                )
            raise WorkloadError(f"{label}: expected {kind}; got {text!r}") from None
    return text


def parse_option(name: str, text: str) -> list[object]:
    """A command-line value list (``"1,10,100"``) as the field's values; ``none`` is None."""
    label = f"--{name.replace('_', '-')}"
    _check_field(name, label)
    return [parse_value(name, part.strip(), label) for part in text.split(",")]


def workload_of(point: Mapping[str, object]) -> Workload:
    """The Workload of a grid point; WorkloadError when the combination is not valid."""
    return Workload(**point)  # type: ignore[arg-type]


def _finite(value: object) -> object:
    """JSON has no inf or NaN: such a figure (nothing fits) becomes an empty value."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summarise(rec: Recommendation) -> dict[str, object]:
    """The result columns of one recommendation (runs in the worker: small to send back);
    an error row for one beyond any real deployment (``MAX_GPUS``)."""
    too_many = beyond_any_deployment(rec)
    if too_many is not None:
        return error_row(too_many)
    est = rec.estimates
    flat = rec.to_row()
    row: dict[str, object] = {
        "gpu_id": rec.gpu.id,
        "tensor_parallel": est.tensor_parallel,
        "pipeline_parallel": est.pipeline_parallel,
        "weights_gb": _finite(est.weights_gb),
        "kv_cache_gb": _finite(est.kv_cache_gb),
        "total_memory_gb": _finite(est.total_memory_gb),
        "memory_per_gpu_gb": _finite(est.memory_per_gpu_gb),
        "throughput_tokens_per_s": _finite(est.throughput_tokens_per_s),
        "max_concurrency": est.max_concurrency,
        "meets_latency": rec.facts.get("meets_latency"),
        "warnings": len(rec.warnings),
        "error": None,
    }
    row.update((name, flat[name]) for name in FROM_TO_ROW)
    return {name: row[name] for name in RESULT_COLUMNS if name in row}


def error_row(error: R1RulesError) -> dict[str, object]:
    """The result columns of a point that has no recommendation."""
    row: dict[str, object] = dict.fromkeys(RESULT_COLUMNS)
    row["error"] = f"{type(error).__name__}: {error}"
    return row


def _key_part(value: object) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(float(value))
    text = str(value)
    try:
        return repr(float(text))
    except ValueError:
        return text


def row_key(row: Mapping[str, object], columns: Sequence[str]) -> tuple[str, ...]:
    """What identifies a row's inputs, the same whether read back from CSV (all strings) or
    JSON Lines or taken from a grid point: numbers compare as numbers, none as empty."""
    return tuple(_key_part(row.get(c)) for c in columns)


class RowWriter:
    """Writes rows as CSV (with a header) or JSON Lines to an open text file."""

    def __init__(self, handle: IO[str], fmt: str, columns: Sequence[str]) -> None:
        self._handle = handle
        self._columns = tuple(columns)
        self._csv: csv.DictWriter[str] | None = None
        if fmt == "csv":
            self._csv = csv.DictWriter(
                handle, self._columns, extrasaction="ignore", lineterminator="\n"
            )
            self._csv.writeheader()

    def write(self, row: Mapping[str, object]) -> None:
        if self._csv is not None:
            self._csv.writerow(row)
        else:
            self._handle.write(json_line(row, self._columns))


def json_line(row: Mapping[str, object], columns: Sequence[str]) -> str:
    """A row as one line of JSON: a non-finite number (JSON has none), which only a grid's
    input can be (``--peak-qps inf``: an error row), as its name: "inf", "-inf", "nan"
    (``row_key`` reads it back as the same point)."""
    row = {c: _named(row.get(c)) for c in columns}
    return json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n"


def _named(value: object) -> object:
    return repr(value) if isinstance(value, float) and not math.isfinite(value) else value


def _finite_number(text: str) -> float:
    """A JSON number read back: a non-finite one (``1e400``) is not one a sweep wrote."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def read_rows(text: str, fmt: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of a previous output or journal. A JSON Lines text may end in a cut line (an
    interrupted write), which is dropped; any other damage, or other columns, raises
    ValueError (the caller then starts afresh)."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            if tuple(reader.fieldnames or ()) != tuple(columns):
                raise ValueError("its columns differ from this sweep's")
            return [dict(row) for row in reader]
        except csv.Error as exc:  # a field beyond the csv module's limit
            raise ValueError(str(exc)) from None
    lines = text.split("\n")
    rows = []
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            row = json.loads(line, parse_float=_finite_number, parse_constant=_no_constant)
        except json.JSONDecodeError:
            if number == len(lines):  # the last line, cut short: not yet written
                break
            raise ValueError(f"line {number} is not JSON") from None
        except ValueError as exc:  # NaN, Infinity, 1e400, an integer of 5,000 digits
            raise ValueError(f"line {number}: {exc}") from None
        except RecursionError:
            raise ValueError(f"line {number} is nested too deeply") from None
        if not isinstance(row, dict) or tuple(row) != tuple(columns):
            raise ValueError(f"line {number}: its columns differ from this sweep's")
        rows.append(row)
    return rows
