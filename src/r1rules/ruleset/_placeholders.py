"""Note and warning texts: ``{fact}`` and ``{fact:.1f}`` placeholders, filled from facts.

Only plain fact names are allowed in a placeholder (no attribute or index access, no
conversion, no positional ``{}``/``{0}``), so a rule's text can never reach anything but
the facts of the evaluation; and only a format spec that works for every value its fact
can take, with width and precision of at most ``MAX_FORMAT_NUMBER``, so that filling a
text can neither fail nor run long at evaluation. Everything is checked when rules load.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping, Sequence

from r1rules._errors import control_problem, safe_repr

__all__ = [
    "MAX_FORMAT_NUMBER",
    "Text",
    "compile_text",
    "control_problem",
    "fill",
    "format_problem",
    "placeholders",
    "render",
]

MAX_FORMAT_NUMBER = 50  # the largest width or precision a format spec may ask for

_FORMATTER = string.Formatter()
# Python's format-spec mini-language (3.11):
# [[fill]align][sign][z][#][0][width][,|_][.precision][type]
_SPEC = re.compile(
    r"(?:(?P<fill>[^{}])?[<>=^])?[-+ ]?z?#?0?(?P<width>\d+)?[,_]?"
    r"(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?",
    re.DOTALL,
)
# Values of each kind of fact that a spec must format (numbers may be whole or not).
_SAMPLES: dict[str, tuple[object, ...]] = {
    "number": (-2.5, 7),
    "bool": (True, False),
}
_TEXT_SAMPLES: tuple[object, ...] = ("text",)


def placeholders(text: str) -> tuple[tuple[str, str], ...]:
    """(name, format_spec) for each placeholder; ValueError (naming the text) on anything
    but ``{fact}`` or ``{fact:spec}``. Whether a spec suits its fact is ``format_problem``."""
    found = []
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:  # unbalanced or stray braces
        hint = "write {{ and }} for literal braces"
        raise ValueError(f"{safe_repr(text)}: {exc} ({hint})") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if conversion:
            raise ValueError(
                f"{safe_repr(text)}: placeholder {{{name}!{conversion}}}: "
                "conversions are not allowed"
            )
        if not name.isidentifier():
            raise ValueError(
                f"{safe_repr(text)}: placeholder {{{name}}}: only plain fact names are allowed, "
                "as {fact} or {fact:spec}"
            )
        found.append((name, spec or ""))
    return tuple(found)


def format_problem(kind: str, spec: str) -> str:
    """Why ``spec`` cannot format every value of a fact of ``kind``, or "".

    A spec must be well-formed, ask for a width and precision of at most
    ``MAX_FORMAT_NUMBER`` (checked before anything is formatted) and format a sample of
    each kind of value the fact takes (numbers: a fraction and a whole number) into
    text without a control character (``{flag:c}`` would write U+0000 or U+0001)."""
    if control_problem(spec, multiline=True):
        return f"bad format {control_problem(spec, multiline=True)}"
    match = _SPEC.fullmatch(spec)
    for part in ("width", "precision"):
        digits = match.group(part) if match else None
        if digits and (len(digits) > 3 or int(digits) > MAX_FORMAT_NUMBER):
            shown = digits if len(digits) <= 12 else f"of {len(digits)} digits"
            return f"bad format {safe_repr(spec)}: {part} {shown} is more than {MAX_FORMAT_NUMBER}"
    for sample in _SAMPLES.get(kind, _TEXT_SAMPLES):
        try:  # a spec outside the grammar fails while it is parsed, before any work
            written = format(sample, spec)
        except (ValueError, TypeError) as exc:
            return f"bad format {safe_repr(spec)} for {kind} fact: {str(exc)[:200]}"
        if control_problem(written, multiline=True):
            return (
                f"bad format {safe_repr(spec)} for {kind} fact: it writes {sample!r} as "
                f"{written!r}, a control character"
            )
    return "" if match else f"bad format {safe_repr(spec)}"


class _Verbatim(str):
    """A value written as it is, whatever the placeholder's format spec ("n/a", a list)."""

    __slots__ = ()

    def __format__(self, spec: str) -> str:
        return str(self)


_NOT_AVAILABLE = _Verbatim("n/a")


class Text:
    """A text parsed once, for ``render``: the facts its placeholders name (in the order
    they appear, once per placeholder) and a ``str.format`` template of it."""

    __slots__ = ("names", "template", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        names: list[str] = []
        template: list[str] = []
        if "{" in text:
            for literal, name, spec, _conversion in _FORMATTER.parse(text):
                template.append(literal.replace("{", "{{").replace("}", "}}"))
                if name is not None:
                    template.append(f"{{{len(names)}:{spec}}}" if spec else f"{{{len(names)}}}")
                    names.append(name)
        self.names: tuple[str, ...] = tuple(names)
        self.template = "".join(template)


@functools.lru_cache(maxsize=4096)
def compile_text(text: str) -> Text:
    """``text`` parsed for ``render`` (cached: rule texts are few and fixed)."""
    return Text(text)


def render(text: Text, values: Sequence[object]) -> str:
    """``text`` with its placeholders replaced by ``values`` (one per name in
    ``text.names``: None is "n/a", a tuple its items joined by ", "): what ``fill``
    writes from facts holding those values."""
    if not text.names:
        return text.text
    for value in values:
        if value is None or isinstance(value, tuple):
            break
    else:  # every value is written by its format spec
        return text.template.format(*values)
    return text.template.format(
        *[
            _NOT_AVAILABLE
            if value is None
            else _Verbatim(", ".join(str(v) for v in value))
            if isinstance(value, tuple)
            else value
            for value in values
        ]
    )


def fill(text: str, facts: Mapping[str, object]) -> str:
    """The text with each placeholder replaced by its fact's value ("n/a" when absent)."""
    if "{" not in text:
        return text
    parsed = compile_text(text)
    return render(parsed, [facts.get(name) for name in parsed.names])
