"""Typed parameter fields: the single source of truth for ranges, defaults and help.

Each operation (DFI, a deflicker preset, an export) declares one frozen dataclass
whose fields are made with :func:`param`. The UI builds its sliders from
:func:`specs`, the CLI its flags from :func:`add_arguments`, and both validate
with :func:`validate`, so a range or a default is written exactly once.

Example
-------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Blur:
...     radius: int = param(3, label="Radius", help="Kernel radius.", minimum=0, maximum=9)
>>> [s.name for s in specs(Blur)]
['radius']
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any

from abysz_lab.errors import InputError

_KEY = "abysz_param"


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """Everything a front end needs to show and check one parameter."""

    name: str
    default: Any
    kind: type  # int, float, bool or str
    label: str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] | None = None
    odd: bool = False  # kernel sizes: only odd values are valid
    original: str = ""  # the name(s) this control had in the original extension
    cli: str = ""  # said only on the command line (flags, what leaving it out means); ``help`` says the rest

    @property
    def cli_help(self) -> str:
        """The help of the command-line flag: ``help`` plus what only the command line needs to say."""
        return f"{self.help} {self.cli}" if self.cli else self.help

    @property
    def flag(self) -> str:
        """Command-line flag for this parameter, e.g. ``--inter-blur``."""
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise InputError."""
        try:
            if self.kind is bool:
                converted = value if isinstance(value, bool) else _parse_bool(value)
            elif self.kind is int:
                as_float = float(value)
                if not as_float.is_integer():
                    msg = f"{self.label} ({self.name}) must be a whole number, got {_fmt(value)}."
                    raise InputError(msg)
                converted = int(as_float)
            elif self.kind is float:
                converted = float(value)
                if not math.isfinite(converted):
                    msg = f"{self.label} ({self.name}) must be a finite number, got {_fmt(value)}."
                    raise InputError(msg)
            else:
                converted = str(value)
        except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: float(10**400)
            if isinstance(exc, InputError):
                raise
            msg = f"{self.label} ({self.name}) must be a {self.kind.__name__}, got {_fmt(value)}."
            raise InputError(msg) from exc
        in_range = (
            self.minimum is None
            or self.maximum is None
            or isinstance(converted, bool)
            or self.minimum <= converted <= self.maximum
        )
        if not in_range:
            msg = (
                f"{self.label} ({self.name}) must be between {_fmt(self.minimum)} and "
                f"{_fmt(self.maximum)}, got {_fmt(converted)}."
            )
            raise InputError(msg)
        if self.odd and converted % 2 == 0:
            msg = f"{self.label} ({self.name}) must be an odd number (it is a kernel size), got {_fmt(converted)}."
            raise InputError(msg)
        if self.choices is not None and converted not in self.choices:
            msg = f"{self.label} ({self.name}) must be one of {', '.join(self.choices)}; got {converted!r}."
            raise InputError(msg)
        return converted


def param(
    default: Any,
    *,
    label: str,
    help: str,  # noqa: A002 - mirrors argparse and gradio
    minimum: float | None = None,
    maximum: float | None = None,
    step: float | None = None,
    choices: tuple[str, ...] | None = None,
    odd: bool = False,
    original: str = "",
    cli: str = "",
) -> Any:
    """Declare a dataclass field carrying its range, default and help text."""
    meta = {
        "label": label,
        "help": help,
        "minimum": minimum,
        "maximum": maximum,
        "step": step,
        "choices": choices,
        "odd": odd,
        "original": original,
        "cli": cli,
    }
    return dataclasses.field(default=default, metadata={_KEY: meta})


def specs(cls_or_obj: Any) -> list[ParamSpec]:
    """Return the :class:`ParamSpec` of every declared field, in declaration order."""
    cls = cls_or_obj if isinstance(cls_or_obj, type) else type(cls_or_obj)
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(_KEY)
        if meta is None:
            continue
        kind = f.type if isinstance(f.type, type) else {"int": int, "float": float, "bool": bool}.get(str(f.type), str)
        out.append(ParamSpec(name=f.name, default=f.default, kind=kind, **meta))
    return out


def validate(obj: Any) -> None:
    """Raise InputError naming the first field of ``obj`` that is out of range."""
    for spec in specs(obj):
        spec.check(getattr(obj, spec.name))


def from_mapping(cls: type, values: Mapping[str, Any]) -> Any:
    """Build ``cls`` from a mapping, converting and checking every known field.

    Unknown keys raise InputError, so a typo in a saved preset or an API call is
    reported instead of being silently ignored.
    """
    known = {s.name: s for s in specs(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        msg = f"Unknown parameter(s) {', '.join(unknown)}; valid names: {', '.join(known)}."
        raise InputError(msg)
    return cls(**{k: known[k].check(v) for k, v in values.items()})


def as_dict(obj: Any) -> dict[str, Any]:
    """Return the declared fields of ``obj`` as a plain JSON-ready dict."""
    return {s.name: getattr(obj, s.name) for s in specs(obj)}


def add_arguments(
    parser: argparse.ArgumentParser | Any, cls: type, *, defaults: Mapping[str, str] | None = None
) -> None:
    """Add one ``--flag`` per field of ``cls`` to an argparse parser (or group).

    The help ends with the range, the choices and the default; ``defaults`` maps a
    field name to the words shown instead of its declared default (for a default
    that depends on another flag, e.g. a deflicker preset's own strength).
    """
    defaults = defaults or {}
    for spec in specs(cls):
        value = spec.default if isinstance(spec.default, str) else _fmt(spec.default)
        shown = defaults.get(spec.name, f"default {value}")
        bits = []
        if spec.minimum is not None:
            bits.append(f"{_fmt(spec.minimum)}..{_fmt(spec.maximum)}")
        if spec.kind is bool:
            shown = defaults.get(spec.name, f"default {spec.flag if spec.default else '--no-' + spec.flag[2:]}")
        if bits or spec.choices or spec.kind is bool or spec.name in defaults:
            bits.append(shown)
        rng = f" [{', '.join(bits)}]" if bits else ""
        text = f"{spec.cli_help}{rng}".replace("%", "%%")  # argparse formats help with %
        if spec.kind is bool:
            parser.add_argument(
                spec.flag, dest=spec.name, default=None, action=argparse.BooleanOptionalAction, help=text
            )
        else:
            parser.add_argument(
                spec.flag,
                dest=spec.name,
                default=None,
                # argparse shows choices only without a metavar: {png,jpg,webp} in the usage line.
                metavar=None if spec.choices else spec.name.upper(),
                choices=spec.choices,
                help=text,
            )


def from_namespace(cls: type, namespace: argparse.Namespace) -> Any:
    """Build ``cls`` from parsed flags; flags the user did not give keep their default."""
    given = {s.name: getattr(namespace, s.name) for s in specs(cls) if getattr(namespace, s.name, None) is not None}
    return from_mapping(cls, given)


def json_schema(cls: type) -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of a parameter class: types, ranges, choices, defaults, labels, help."""
    properties: dict[str, Any] = {}
    for spec in specs(cls):
        prop: dict[str, Any] = {
            "type": {bool: "boolean", int: "integer", float: "number"}.get(spec.kind, "string"),
            "title": spec.label,
            "description": spec.help + (" Odd values only." if spec.odd else ""),
            "default": spec.default,
        }
        if spec.minimum is not None:
            prop["minimum"] = spec.minimum
        if spec.maximum is not None:
            prop["maximum"] = spec.maximum
        if spec.choices is not None:
            prop["enum"] = list(spec.choices)
        properties[spec.name] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": cls.__name__,
        "description": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def iter_changed(obj: Any) -> Iterator[tuple[str, Any, Any]]:
    """Yield ``(name, value, default)`` for every field that differs from its default."""
    for spec in specs(obj):
        value = getattr(obj, spec.name)
        if value != spec.default:
            yield spec.name, value, spec.default


def _parse_bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    msg = f"not a yes/no value: {value!r}"
    raise ValueError(msg)


def format_value(x: Any) -> str:
    """A number as a person reads it in a message: 5 not 5.0, 1e+308 not 309 digits; long text shortened."""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x) if abs(x) < 10**15 else f"{x:.6g}" if abs(x) < 10**300 else f"about 1e+{len(str(abs(x))) - 1}"
    if isinstance(x, float):
        return f"{x:.15g}" if abs(x) < 1e15 else f"{x:.6g}"
    text = repr(x) if isinstance(x, str) else str(x)
    return text if len(text) <= 40 else f"{text[:37]}..."


_fmt = format_value  # the short name used throughout this module
