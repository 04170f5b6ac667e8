"""ComfyUI widget declarations generated from the ``param()`` fields of a parameter dataclass.

A node's ``INPUT_TYPES`` never spells a range, a default or a help text: they
come from :func:`abysz_lab.params.specs`, so the nodes, the tab, the CLI and the
README cannot disagree. Pure data, no ComfyUI import.
"""

from __future__ import annotations

from typing import Any

from abysz_lab import params as prm


def widget(spec: prm.ParamSpec) -> tuple[Any, dict[str, Any]]:
    """The ComfyUI input declaration ``(type, options)`` of one parameter: INT, FLOAT, BOOLEAN, STRING or a combo."""
    options: dict[str, Any] = {"default": spec.default, "tooltip": spec.help}
    if spec.choices is not None:
        return list(spec.choices), options  # a list of values is ComfyUI's combo box
    if spec.kind is bool:
        return "BOOLEAN", options
    if spec.kind is int or spec.kind is float:
        cast = spec.kind
        if spec.minimum is not None:
            options["min"] = cast(spec.minimum)
        if spec.maximum is not None:
            options["max"] = cast(spec.maximum)
        # Odd kernel sizes step by 2 from an odd minimum, so the arrows never land on an invalid value.
        options["step"] = cast(spec.step) if spec.step is not None else cast(1 if spec.kind is int else 0.01)
        if spec.kind is float:
            options["round"] = False  # keep the value typed; the dataclass checks the range
        return ("INT" if spec.kind is int else "FLOAT"), options
    return "STRING", options | {"multiline": False}


def widgets(cls: type, *, skip: tuple[str, ...] = ()) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Every declared field of ``cls`` as ComfyUI inputs, in declaration order (names kept as widget names)."""
    return {spec.name: widget(spec) for spec in prm.specs(cls) if spec.name not in skip}


def values_for(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """The subset of a node call's keyword arguments that are fields of ``cls``."""
    names = {spec.name for spec in prm.specs(cls)}
    return {k: v for k, v in given.items() if k in names}
