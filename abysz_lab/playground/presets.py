"""Deflicker playground presets: the controls, the step kinds, the built-in presets and the preset format.

A preset is data: a documented chain of :class:`Step` s and one strength
control. This module holds :class:`PlaygroundParams` (the controls),
the built-in presets, the JSON form of a custom preset with its validation,
and the chain syntax the UI accepts; :mod:`abysz_lab.playground.storage` keeps
the user's saved presets and :mod:`abysz_lab.playground.chain` runs them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from abysz_lab import params as prm
from abysz_lab.errors import InputError
from abysz_lab.playground.engines import ENGINES

STRENGTH = "strength"  # a step amount (or the preset's mix) bound to the strength control
WINDOW = "window"  # a step window bound to the window control


# --- parameters ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaygroundParams:
    """The playground controls. Ranges, defaults and help are read by the UI and the CLI.

    The defaults suit the default preset; :func:`params_for_preset` starts from
    another preset's own recommended strength and window.
    """

    preset: str = prm.param(
        "brightness-lock",
        label="Deflicker preset",
        help="Name of a built-in or saved preset.",
        cli="See --list-presets.",
    )
    strength: float = prm.param(
        1.0,
        label="Preset strength",
        help="The preset's one strength control, 0 to 1; each preset says what it does. Picking a preset "
        "sets its recommended value.",
        cli="See --list-presets. Leave it out to use the preset's recommended value.",
        minimum=0.0,
        maximum=1.0,
        step=0.05,
        original="Blend / Overlay / Normalize strength",
    )
    window: int = prm.param(
        15,
        label="Window (frames)",
        help="Frames a windowed step looks at, centred on each frame (odd). Wider is steadier but lets "
        "quick real changes through less. Ignored by presets without a windowed step.",
        minimum=3,
        maximum=31,
        step=2,
        odd=True,
    )
    engine: str = prm.param(
        "auto",
        label="Engine",
        help="auto: ImageMagick through Wand when it loads, else numpy/OpenCV; wand: ImageMagick only; "
        "numpy: numpy/OpenCV only. Both give the same result within a grey level.",
        choices=ENGINES,
    )

    def __post_init__(self) -> None:
        prm.validate(self)


# --- presets as data -------------------------------------------------------------------

PAIR_KINDS = ("blend", "overlay", "normalize")  # use the previous input frame
WINDOW_KINDS = ("temporal_mean", "temporal_median", "brightness_lock", "colour_lock")  # centred window
STEP_KINDS = PAIR_KINDS + WINDOW_KINDS

STEP_HELP = {
    "blend": "out_t = a*in_t + (1-a)*in_(t-1); out_0 = in_0 (the previous INPUT frame, not recursive).",
    "overlay": "out_t = a*overlay(in_(t-1), in_t) + (1-a)*in_t, overlay blend mode with the previous frame as "
    "base; out_0 = in_0.",
    "normalize": "out_t = w*in_(t-1) + (1-w)*in_t with w = L_(t-1)/(L_(t-1)+L_t), L the mean luma; "
    "mixed with in_t by a.",
    "temporal_mean": "per-pixel mean of the k frames centred on t (fewer at the ends); mixed with in_t by a.",
    "temporal_median": "per pixel, the colour of median brightness among the k frames centred on t (fewer at "
    "the ends); mixed with in_t by a.",
    "brightness_lock": "scale each frame so its mean luma follows a local straight-line fit over its k "
    "neighbours (with contrast: also its luma spread); mixed by a.",
    "colour_lock": "match each Lab channel's mean and spread to a local straight-line fit over the k "
    "neighbours; mixed by a.",
}


@dataclass(frozen=True)
class Step:
    """One step of a preset: a kind, its amount ``a`` in [0, 1] and, for windowed kinds, its window k.

    ``amount`` and ``window`` are numbers or the strings ``"strength"`` /
    ``"window"``, which bind them to the playground's controls.
    """

    kind: str
    amount: float | str = STRENGTH
    window: int | str = WINDOW  # ignored by steps that are not windowed
    contrast: bool = False

    @property
    def windowed(self) -> bool:
        """True for steps that look at a centred window of frames."""
        return self.kind in WINDOW_KINDS

    def describe(self) -> str:
        """Short human form, e.g. ``temporal median (k=window, amount=strength)``."""
        bits = [f"amount={self.amount}"]
        if self.windowed:
            bits.insert(0, f"k={self.window}")
        if self.contrast:
            bits.append("contrast")
        return f"{self.kind.replace('_', ' ')} ({', '.join(bits)})"

    def to_json(self) -> dict[str, Any]:
        """The JSON form saved in custom preset files."""
        data: dict[str, Any] = {"kind": self.kind, "amount": self.amount}
        if self.windowed:
            data["window"] = self.window
        if self.contrast:
            data["contrast"] = True
        return data


@dataclass(frozen=True)
class Preset:
    """A named, documented chain of steps with one strength control.

    ``mix`` blends the chain's result with the input frame (1 = the result
    only); like a step's amount it may be bound to ``"strength"``.
    """

    name: str  # identifier used on the command line and as the file name of custom presets
    title: str
    description: str
    steps: tuple[Step, ...]
    strength_help: str
    default_strength: float = 1.0
    default_window: int = 15
    mix: float | str = 1.0
    builtin: bool = True

    @property
    def uses_window(self) -> bool:
        """True when the window control changes what this preset does."""
        return any(s.windowed and s.window == WINDOW for s in self.steps)

    @property
    def uses_strength(self) -> bool:
        """True when the strength control changes what this preset does."""
        return self.mix == STRENGTH or any(s.amount == STRENGTH for s in self.steps)

    def chain_text(self) -> str:
        """The steps in order, e.g. ``brightness lock (...) -> temporal median (...)``."""
        text = " -> ".join(s.describe() for s in self.steps)
        return text if self.mix == 1.0 else f"{text}; mixed with the input by {self.mix}"

    def to_json(self) -> dict[str, Any]:
        """The JSON document of a custom preset file."""
        return {
            "format": PRESET_FORMAT,
            "version": 1,
            "name": self.title,
            "description": self.description,
            "strength_help": self.strength_help,
            "default_strength": self.default_strength,
            "default_window": self.default_window,
            "mix": self.mix,
            "steps": [s.to_json() for s in self.steps],
        }


_MIX_HELP = "How much of the chain's result replaces the input frame (1 = all of it)."

BUILTIN_PRESETS: tuple[Preset, ...] = (
    Preset(
        "brightness-lock",
        "Brightness lock",
        "Removes brightness pumping: each frame is scaled so its mean brightness follows a smooth curve over "
        "its neighbours, so slow real fades survive. Start here for flicker in generated-only footage.",
        (Step("brightness_lock", STRENGTH, WINDOW),),
        "How much of the correction is applied (1 = full lock).",
        1.0,
        15,
    ),
    Preset(
        "brightness-contrast-lock",
        "Brightness + contrast lock",
        "Like Brightness lock, and also holds the contrast (spread of brightness) steady.",
        (Step("brightness_lock", STRENGTH, WINDOW, contrast=True),),
        "How much of the correction is applied (1 = full lock).",
        1.0,
        15,
    ),
    Preset(
        "colour-lock",
        "Colour lock",
        "Removes colour pumping: each frame's mean and spread of lightness and of the two colour axes (Lab) "
        "follow a smooth curve over its neighbours.",
        (Step("colour_lock", STRENGTH, WINDOW),),
        "How much of the correction is applied (1 = full lock).",
        1.0,
        15,
    ),
    Preset(
        "temporal-median",
        "Temporal median",
        "Per pixel, the colour of median brightness among the frames around each frame (ImageMagick's "
        "evaluate-sequence Median, which keeps whole colours): removes details that pop in for a frame or two; "
        "moving objects may lose sharp edges.",
        (Step("temporal_median", STRENGTH, WINDOW),),
        "How much of the median replaces the frame (1 = all of it).",
        1.0,
        3,
    ),
    Preset(
        "temporal-mean",
        "Temporal mean",
        "Per-pixel mean of the frames around each frame (evaluate-sequence Mean): smooths texture boil; "
        "moving objects ghost.",
        (Step("temporal_mean", STRENGTH, WINDOW),),
        "How much of the mean replaces the frame (1 = all of it).",
        1.0,
        3,
    ),
    Preset(
        "brightness-lock-median-3",
        "Brightness lock -> temporal median 3",
        "Brightness lock, then a 3-frame temporal median: steady brightness and no one-frame pops.",
        (Step("brightness_lock", STRENGTH, WINDOW), Step("temporal_median", 1.0, 3)),
        "How much of the brightness correction is applied (1 = full lock); the median is always on.",
        1.0,
        15,
    ),
    Preset(
        "blend",
        "Blend (original)",
        "The original's Blend: out_t = s*frame_t + (1-s)*frame_(t-1), using the previous INPUT frame; the "
        "first frame is kept as is.",
        (Step("blend", STRENGTH),),
        "s, the weight of the current frame: 1 leaves frames unchanged, 0.5 is the strongest smoothing.",
        0.5,
    ),
    Preset(
        "overlay",
        "Overlay (original)",
        "The original's Overlay: out_t = s*overlay(frame_(t-1), frame_t) + (1-s)*frame_t, the standard "
        "overlay blend mode with the previous frame as base. Unlike the original it adds no extra +10 "
        "brightness at s >= 0.4 and leaves the first frame as is.",
        (Step("overlay", STRENGTH),),
        "s, how much of the overlay is used (0 = off). The overlay also raises contrast.",
        0.5,
    ),
    Preset(
        "normalize",
        "Normalize (original)",
        "The original's Normalize: out_t = w*frame_(t-1) + (1-w)*frame_t with w = L_(t-1)/(L_(t-1)+L_t), "
        "L the mean brightness: a bright frame leans on a darker previous one and the reverse.",
        (Step("normalize", STRENGTH),),
        "How much of the normalized frame replaces the frame (1 = the formula exactly).",
        1.0,
    ),
    Preset(
        "original-chain",
        "Blend -> Overlay -> Normalize (original)",
        "What the original did with all three deflickers on, in its order: Blend (s=0.5), Overlay (s=0.5), "
        "Normalize. Without the original's +10 brightness and first-frame mangling.",
        (Step("blend", 0.5), Step("overlay", 0.5), Step("normalize", 1.0)),
        _MIX_HELP,
        1.0,
        mix=STRENGTH,
    ),
)


def builtin_preset(name: str) -> Preset:
    """Return the built-in preset called ``name`` (identifier or title, any case); raise InputError."""
    for preset in BUILTIN_PRESETS:
        if _same_name(name, preset):
            return preset
    msg = f"No built-in preset called {name!r}; built-in presets: {', '.join(p.name for p in BUILTIN_PRESETS)}."
    raise InputError(msg)


def _same_name(name: str, preset: Preset) -> bool:
    key = name.strip().casefold()
    return key in (preset.name.casefold(), preset.title.casefold())


# --- custom presets: the JSON form and the chain syntax -------------------------------------

PRESET_FORMAT = "abysz-lab-preset"
MAX_STEPS = 8


def preset_slug(name: str) -> str:
    """The identifier and file stem of a custom preset called ``name`` (lowercase, dashes)."""
    slug = re.sub(r"[^0-9a-z]+", "-", name.strip().casefold()).strip("-")
    if not slug:
        msg = f"A preset name needs at least one letter or digit, got {name!r}."
        raise InputError(msg)
    return slug[:60]


def make_preset(
    name: str,
    steps: Sequence[Step],
    *,
    description: str = "",
    strength_help: str = "",
    default_strength: float = 1.0,
    default_window: int = 15,
    mix: float | str = 1.0,
) -> Preset:
    """Build and validate a custom preset (what the UI's "save chain" does before :func:`save_preset`)."""
    data = {
        "format": PRESET_FORMAT,
        "version": 1,
        "name": name,
        "description": description,
        "strength_help": strength_help,
        "default_strength": default_strength,
        "default_window": default_window,
        "mix": mix,
        "steps": [s.to_json() if isinstance(s, Step) else s for s in steps],
    }
    return preset_from_json(data, source=f"Preset {name!r}", hint="")


def preset_from_json(data: Any, *, source: str, hint: str = "Fix or delete that preset file.") -> Preset:
    """Validate a custom preset document; raise InputError naming ``source`` and the bad field."""

    def bad(what: str) -> NoReturn:
        msg = f"{source}: {what}. {hint}".strip()
        raise InputError(msg)

    if not isinstance(data, dict):
        bad("the file must hold a JSON object")
    allowed = {
        "format",
        "version",
        "name",
        "description",
        "strength_help",
        "default_strength",
        "default_window",
        "mix",
        "steps",
    }
    unknown = sorted(set(data) - allowed)
    if unknown:
        bad(f"unknown field(s) {', '.join(unknown)}")
    if data.get("format") != PRESET_FORMAT:
        bad(f'"format" must be "{PRESET_FORMAT}"')
    if data.get("version") != 1:
        bad('"version" must be 1 (this preset was saved by a newer Abysz LAB?)')
    title = data.get("name")
    if not isinstance(title, str) or not title.strip():
        bad('"name" must be a non-empty string')
    for key in ("description", "strength_help"):
        if not isinstance(data.get(key, ""), str):
            bad(f'"{key}" must be a string')
    strength_spec, window_spec = (_spec("strength"), _spec("window"))
    try:
        default_strength = strength_spec.check(data.get("default_strength", strength_spec.default))
        default_window = window_spec.check(data.get("default_window", window_spec.default))
    except InputError as exc:
        bad(str(exc).rstrip("."))
    mix = _check_amount(data.get("mix", 1.0), '"mix"', bad)
    steps_data = data.get("steps")
    if not isinstance(steps_data, list) or not 1 <= len(steps_data) <= MAX_STEPS:
        bad(f'"steps" must be a list of 1 to {MAX_STEPS} steps')
    steps = tuple(_step_from_json(item, i + 1, bad) for i, item in enumerate(steps_data))
    return Preset(
        name=preset_slug(title),
        title=title.strip(),
        description=data.get("description", "").strip() or "Custom preset.",
        steps=steps,
        strength_help=data.get("strength_help", "").strip() or "See the preset's steps.",
        default_strength=default_strength,
        default_window=default_window,
        mix=mix,
        builtin=False,
    )


def _spec(name: str) -> prm.ParamSpec:
    return next(s for s in prm.specs(PlaygroundParams) if s.name == name)


def _check_amount(value: Any, where: str, bad) -> float | str:
    if value == STRENGTH:
        return STRENGTH
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        bad(f'{where} must be a number from 0 to 1 or "{STRENGTH}", got {value!r}')
    return float(value)


def _step_from_json(item: Any, number: int, bad) -> Step:
    where = f"step {number}"
    if not isinstance(item, dict):
        bad(f'{where} must be an object with a "kind"')
    unknown = sorted(set(item) - {"kind", "amount", "window", "contrast"})
    if unknown:
        bad(f"{where} has unknown field(s) {', '.join(unknown)}")
    kind = item.get("kind")
    if kind not in STEP_KINDS:
        bad(f'{where}: "kind" must be one of {", ".join(STEP_KINDS)}, got {kind!r}')
    amount = _check_amount(item.get("amount", STRENGTH), f'{where} "amount"', bad)
    window: int | str = 0
    if kind in WINDOW_KINDS:
        window = item.get("window", WINDOW)
        if window != WINDOW:
            try:
                window = _spec("window").check(window)
            except InputError as exc:
                bad(f"{where}: {str(exc).rstrip('.')}")
    elif "window" in item:
        bad(f'{where}: a {kind} step has no "window"')
    contrast = item.get("contrast", False)
    if not isinstance(contrast, bool):
        bad(f'{where}: "contrast" must be true or false')
    if contrast and kind != "brightness_lock":
        bad(f'{where}: only brightness_lock steps have "contrast"')
    return Step(kind, amount, window, contrast)


CHAIN_SYNTAX = (
    "Write steps in order separated by '->', each as kind[:window][@amount][+contrast], e.g. "
    "'brightness_lock -> temporal_median:3'. Kinds: " + ", ".join(STEP_KINDS) + ". A step without :window "
    "follows the Window control and one without @amount follows the Strength control."
)


def parse_chain(text: str) -> list[Step]:
    """Steps from a chain typed as text, e.g. ``brightness_lock -> temporal_median:3@0.5`` (see CHAIN_SYNTAX).

    Only the syntax is checked here; :func:`make_preset` checks the values.
    """
    parts = [p.strip() for p in re.split(r"->|\u2192|>", text or "")]
    if not any(parts):
        msg = f"Type a chain of steps. {CHAIN_SYNTAX}"
        raise InputError(msg)
    steps = []
    for number, part in enumerate(parts, 1):
        match = re.fullmatch(r"([A-Za-z _-]+?)\s*(?::\s*(\d+))?\s*(?:@\s*([0-9.]+))?\s*(\+\s*contrast)?", part)
        kind = re.sub(r"[\s-]+", "_", match.group(1).strip().casefold()).replace("color", "colour") if match else ""
        if not match or kind not in STEP_KINDS:
            msg = f"Step {number} of the chain, {part!r}, is not a step. {CHAIN_SYNTAX}"
            raise InputError(msg)
        window, amount = match.group(2), match.group(3)
        if window is not None and kind not in WINDOW_KINDS:
            msg = f"Step {number} of the chain: a {kind} step has no window (drop ':{window}')."
            raise InputError(msg)
        try:
            value = float(amount) if amount is not None else STRENGTH
        except ValueError as exc:
            msg = f"Step {number} of the chain: amount {amount!r} must be a number from 0 to 1."
            raise InputError(msg) from exc
        steps.append(Step(kind, value, int(window) if window is not None else WINDOW, bool(match.group(4))))
    return steps
