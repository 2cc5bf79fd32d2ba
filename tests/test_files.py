"""Bounded reading of every input file: no file can exhaust memory or escape as a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import r1rules
from r1rules._errors import WorkloadError
from r1rules._files import UnreadableFile, read_json, read_text, read_toml, toml_of


def test_an_endless_file_is_read_only_up_to_the_limit() -> None:
    with pytest.raises(UnreadableFile, match=r"^larger than 1,024 bytes$"):
        read_text("/dev/zero", limit=1024)


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text("x" * 1024, encoding="utf-8")
    assert read_text(path, limit=1024) == "x" * 1024
    path.write_text("x" * 1025, encoding="utf-8")
    with pytest.raises(UnreadableFile, match="larger than 1,024 bytes"):
        read_text(path, limit=1024)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.mkdir(), "is a folder, not a file"),
        (lambda p: None, "No such file or directory"),
        (lambda p: p.write_bytes(b"\xff\xfe a = 1"), "not UTF-8 text (byte 0)"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, make: object, reason: str) -> None:
    path = tmp_path / "x.toml"
    make(path)  # type: ignore[operator]
    with pytest.raises(UnreadableFile) as caught:
        read_text(path)
    assert caught.value.reason == reason


def test_a_nul_byte_in_the_name_is_a_reason() -> None:
    with pytest.raises(UnreadableFile, match="null byte"):
        read_text("a\0b")


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("x = " + "9" * 5000, "invalid TOML: a whole number has more than 4,300 digits"),
        ("x = " + "[" * 200_000, "invalid TOML"),
        ("x = = 1", "invalid TOML: Invalid value"),
    ],
)
def test_toml_that_python_refuses_is_invalid_toml(text: str, start: str) -> None:
    with pytest.raises(UnreadableFile) as caught:
        toml_of(text)
    assert caught.value.reason.startswith(start)


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("9" * 5000, "invalid JSON: a whole number has more than 4,300 digits"),
        ("[" * 200_000, "invalid JSON: nested too deeply"),
        ("{", "invalid JSON: Expecting property name"),
    ],
)
def test_json_that_python_refuses_is_invalid_json(tmp_path: Path, text: str, start: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UnreadableFile) as caught:
        read_json(path)
    assert caught.value.reason.startswith(start)


def test_command_inputs_become_workload_errors_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match=r"^cannot read workload file /dev/zero: larger than"):
        read_toml("/dev/zero", "workload")
    bad = tmp_path / "w.toml"
    bad.write_text("peak_qps = " + "1" * 5000, encoding="utf-8")
    with pytest.raises(WorkloadError, match=f"^{bad}: invalid TOML: a whole number has more"):
        read_toml(bad, "workload")
    bad.write_text("peak_qps = 2", encoding="utf-8")
    assert read_toml(bad, "workload") == {"peak_qps": 2}


@pytest.mark.parametrize("loader", ["rules", "catalog", "hf"])
def test_every_loader_reads_bounded_and_names_the_file(tmp_path: Path, loader: str) -> None:
    """/dev/zero and a 5,000-digit number, given as a rule file, a catalog or an HF config,
    are the library's own errors naming the file, never a hang or an internal error."""
    loaders: dict[str, Callable[[str | Path], object]] = {
        "rules": r1rules.load_rules,
        "catalog": r1rules.load_catalog,
        "hf": r1rules.model_from_hf_config,
    }
    load = loaders[loader]
    with pytest.raises(r1rules.R1RulesError, match=r"/dev/zero: cannot read: larger than"):
        load("/dev/zero")
    huge = tmp_path / ("c.json" if loader == "hf" else "c.toml")
    number = "9" * 5000
    huge.write_text(
        f'{{"hidden_size": {number}}}' if loader == "hf" else f"x = {number}", encoding="utf-8"
    )
    kind = "JSON" if loader == "hf" else "TOML"
    with pytest.raises(r1rules.R1RulesError) as caught:
        load(huge)
    assert f"{huge}: invalid {kind}: a whole number has more than 4,300 digits" in str(caught.value)


def test_a_byte_order_mark_is_not_part_of_the_text(tmp_path: Path) -> None:
    """Editors on Windows save UTF-8 with a BOM: the workload file reads as without it (it
    was "invalid TOML: Invalid statement (at line 1, column 1)"); only the leading one."""
    path = tmp_path / "w.toml"
    path.write_bytes(b'\xef\xbb\xbfmodel = "deepseek-r1"\npeak_qps = 2\nlatency_ms = 2000\n')
    assert read_toml(path, "workload")["model"] == "deepseek-r1"
    path.write_bytes(b"\xef\xbb\xbf\xef\xbb\xbfx = 1\n")
    assert read_text(path) == "\ufeffx = 1\n"


def test_an_abbreviated_choice_is_suggested() -> None:
    with pytest.raises(WorkloadError, match=r"stage: 'prod' .* \(did you mean 'production'\?\)"):
        r1rules.Workload(model="deepseek-r1", peak_qps=1, latency_ms=100, stage="prod")
