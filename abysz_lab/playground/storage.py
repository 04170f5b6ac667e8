"""Deflicker playground storage: the user's saved presets, and finding any preset by name.

Custom presets are JSON files (the format of :mod:`abysz_lab.playground.presets`)
in a user folder, never in the extension's code folder; a bad file becomes one
message, not an error, so the other presets stay usable.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abysz_lab import params as prm
from abysz_lab.errors import InputError
from abysz_lab.frames import write_bytes_atomic
from abysz_lab.playground.presets import (
    BUILTIN_PRESETS,
    PlaygroundParams,
    Preset,
    _same_name,
    preset_from_json,
    preset_slug,
)

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # abysz_lab/, the whole extension's code


def default_preset_folder() -> Path:
    """The user's preset folder: %APPDATA%\\abysz_lab\\presets on Windows, else ~/.config/abysz_lab/presets.

    ``$XDG_CONFIG_HOME`` is honoured. The folder is not created here.
    """
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "abysz_lab" / "presets"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "abysz_lab" / "presets"


def _preset_folder(folder: str | os.PathLike[str] | None) -> Path:
    path = Path(folder).expanduser() if folder is not None else default_preset_folder()
    if folder is not None and path.exists() and not path.is_dir():
        msg = f"The presets folder {path} is a file, not a folder: give the folder that holds your preset .json files."
        raise InputError(msg)
    real = Path(os.path.realpath(path))
    if real == _PACKAGE_DIR or _PACKAGE_DIR in real.parents:
        msg = f"Custom presets cannot live inside the extension's code folder ({path}): choose a user folder."
        raise InputError(msg)
    return path


def load_preset_file(path: str | os.PathLike[str]) -> Preset:
    """Read and validate one custom preset file; raise InputError saying what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"Cannot read the preset file {path}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        msg = f"The preset file {path} is not valid JSON ({exc}). Fix or delete it."
        raise InputError(msg) from exc
    return preset_from_json(data, source=f"Preset file {path}")


@dataclass(frozen=True)
class CustomPresets:
    """The valid custom presets of a folder, and one message per file that could not be used."""

    presets: tuple[Preset, ...]
    problems: tuple[str, ...]


def load_custom_presets(folder: str | os.PathLike[str] | None = None) -> CustomPresets:
    """Load every ``*.json`` preset of ``folder`` (default: the user's); bad files become problems, not errors."""
    path = _preset_folder(folder)
    if not path.is_dir():
        return CustomPresets((), ())
    presets, problems = [], []
    for file in sorted(path.glob("*.json")):
        try:
            preset = load_preset_file(file)
        except InputError as exc:
            problems.append(str(exc))
            continue
        if any(_same_name(preset.name, b) or _same_name(preset.title, b) for b in BUILTIN_PRESETS):
            problems.append(f"Preset file {file} is named like a built-in preset ({preset.title}): rename it.")
            continue
        presets.append(preset)
    return CustomPresets(tuple(presets), tuple(problems))


def save_preset(preset: Preset, folder: str | os.PathLike[str] | None = None, *, overwrite: bool = False) -> Path:
    """Save a custom preset as ``<slug>.json`` in ``folder`` (created); return the file's path."""
    if any(_same_name(preset.name, b) or _same_name(preset.title, b) for b in BUILTIN_PRESETS):
        msg = f"A built-in preset is called {preset.title!r}: choose another name for yours."
        raise InputError(msg)
    path = _preset_folder(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"Cannot create the preset folder {path}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    target = path / f"{preset_slug(preset.title)}.json"
    if target.exists() and not overwrite:
        msg = f"A preset called {preset.title!r} already exists ({target}): delete it first or allow overwriting."
        raise InputError(msg)
    text = json.dumps(preset.to_json(), indent=2, ensure_ascii=False) + "\n"
    write_bytes_atomic(target, text.encode("utf-8"))
    return target


def delete_preset(name: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """Delete the custom preset called ``name``; return the removed file. Built-ins cannot be deleted."""
    if any(_same_name(name, b) for b in BUILTIN_PRESETS):
        msg = f"{name!r} is a built-in preset; only your own presets can be deleted."
        raise InputError(msg)
    path = _preset_folder(folder)
    target = path / f"{preset_slug(name)}.json"
    if not target.is_file():
        msg = f"No custom preset called {name!r} in {path}."
        raise InputError(msg)
    target.unlink()
    return target


def all_presets(folder: str | os.PathLike[str] | None = None) -> list[Preset]:
    """Built-in presets, then the valid custom presets of ``folder``."""
    return [*BUILTIN_PRESETS, *load_custom_presets(folder).presets]


def find_preset(name: str, folder: str | os.PathLike[str] | None = None) -> Preset:
    """Return the built-in or custom preset called ``name`` (identifier or title); raise InputError."""
    _preset_folder(folder)  # a wrong folder is refused even when a built-in preset is asked for
    for preset in BUILTIN_PRESETS:
        if _same_name(name, preset):
            return preset
    custom = load_custom_presets(folder)
    for preset in custom.presets:
        if _same_name(name, preset):
            return preset
    try:
        file = _preset_folder(folder) / f"{preset_slug(name)}.json"
    except InputError:  # a name without letters or digits has no file
        file = None
    if file is not None and file.is_file():
        # The file of that name was skipped as invalid: say why rather than that there is no such preset.
        try:
            load_preset_file(file)
        except InputError as exc:
            msg = f"The preset {name!r} cannot be used: {exc}"
            raise InputError(msg) from exc
    names = ", ".join(p.name for p in (*BUILTIN_PRESETS, *custom.presets))
    msg = f"No preset called {name!r}. Available: {names} (python -m abysz_lab deflicker --list-presets)."
    raise InputError(msg)


@dataclass(frozen=True)
class PresetInfo:
    """What the UI's preset picker shows for one preset."""

    name: str
    title: str
    description: str
    chain: str
    strength_help: str
    default_strength: float
    default_window: int
    uses_strength: bool
    uses_window: bool
    builtin: bool


def list_presets(folder: str | os.PathLike[str] | None = None) -> list[PresetInfo]:
    """Describe every preset (built-in first, then the user's) for a picker or ``--list-presets``."""
    return [
        PresetInfo(
            p.name,
            p.title,
            p.description,
            p.chain_text(),
            p.strength_help,
            p.default_strength,
            p.default_window,
            p.uses_strength,
            p.uses_window,
            p.builtin,
        )
        for p in all_presets(folder)
    ]


def params_for_preset(name: str, *, folder: str | os.PathLike[str] | None = None, **overrides: Any) -> PlaygroundParams:
    """PlaygroundParams for preset ``name`` with its recommended strength and window, then ``overrides``."""
    preset = find_preset(name, folder)
    values = {"preset": preset.name, "strength": preset.default_strength, "window": preset.default_window}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return prm.from_mapping(PlaygroundParams, values)
