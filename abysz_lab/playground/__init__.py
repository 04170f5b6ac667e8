"""Deflicker playground: named presets (chains of temporal steps) run on ImageMagick or numpy.

A preset is data: a documented chain of :class:`Step` s and one strength
control. Two engines implement the same small set of step kinds, so a preset
never cares which one runs it:

- the Wand engine runs every step on ImageMagick (composite blend/overlay,
  evaluate-sequence mean/median, polynomial functions, Lab colourspace);
- the numpy engine runs the same steps on numpy/OpenCV. ``engine="auto"`` uses
  Wand when ImageMagick loads and falls back to numpy with a one-sentence hint
  when it does not, so the playground always works.

Steps are temporal filters over a stream of frames. Output ``t`` of a chain
depends only on input frames ``t - lookback .. t + lookahead``, so previews read
just those frames, apply keeps memory bounded by the window, and a resumed run
recomputes the few frames before the resume point instead of storing state.

The package holds one module per part: :mod:`~abysz_lab.playground.presets`
(the controls, the built-in presets, the preset format and the chain syntax),
:mod:`~abysz_lab.playground.storage` (the user's saved presets, finding a preset by name),
:mod:`~abysz_lab.playground.engines` (Wand and numpy),
:mod:`~abysz_lab.playground.chain` (steps bound to the controls, streamed over
frames) and :mod:`~abysz_lab.playground.runner` (previews and apply on folders).
Every public name is importable from ``abysz_lab.playground`` itself.

Example
-------
>>> import numpy as np
>>> frames = [np.full((4, 4, 3), v, np.uint8) for v in (100, 140, 100)]
>>> out = process_frames(frames, PlaygroundParams(preset="temporal-median", window=3), engine="numpy")
>>> int(out[1][0, 0, 0])
100
"""

from abysz_lab.playground.chain import (
    LUMA_BGR,
    Chain,
    ResolvedStep,
    local_line,
    process_frames,
    resolve_chain,
    run_chain,
)
from abysz_lab.playground.engines import (
    ENGINES,
    MEDIAN_INTENSITY_BGR,
    Engine,
    EngineChoice,
    EngineStatus,
    NumpyEngine,
    Stats,
    WandEngine,
    choose_engine,
    engine_status,
    missing_wand_message,
)
from abysz_lab.playground.presets import (
    BUILTIN_PRESETS,
    CHAIN_SYNTAX,
    MAX_STEPS,
    PAIR_KINDS,
    PRESET_FORMAT,
    STEP_HELP,
    STEP_KINDS,
    STRENGTH,
    WINDOW,
    WINDOW_KINDS,
    PlaygroundParams,
    Preset,
    Step,
    builtin_preset,
    make_preset,
    parse_chain,
    preset_from_json,
    preset_slug,
)
from abysz_lab.playground.runner import (
    PlaygroundPreview,
    PreviewFrame,
    apply_preset,
    before_after,
    preview,
    write_preview_animation,
)
from abysz_lab.playground.storage import (
    CustomPresets,
    PresetInfo,
    all_presets,
    default_preset_folder,
    delete_preset,
    find_preset,
    list_presets,
    load_custom_presets,
    load_preset_file,
    params_for_preset,
    save_preset,
)

__all__ = [
    "BUILTIN_PRESETS",
    "CHAIN_SYNTAX",
    "Chain",
    "CustomPresets",
    "ENGINES",
    "Engine",
    "EngineChoice",
    "EngineStatus",
    "LUMA_BGR",
    "MAX_STEPS",
    "MEDIAN_INTENSITY_BGR",
    "NumpyEngine",
    "PAIR_KINDS",
    "PRESET_FORMAT",
    "PlaygroundParams",
    "PlaygroundPreview",
    "Preset",
    "PresetInfo",
    "PreviewFrame",
    "ResolvedStep",
    "STEP_HELP",
    "STEP_KINDS",
    "STRENGTH",
    "Stats",
    "Step",
    "WINDOW",
    "WINDOW_KINDS",
    "WandEngine",
    "all_presets",
    "apply_preset",
    "before_after",
    "builtin_preset",
    "choose_engine",
    "default_preset_folder",
    "delete_preset",
    "engine_status",
    "find_preset",
    "list_presets",
    "load_custom_presets",
    "load_preset_file",
    "local_line",
    "make_preset",
    "missing_wand_message",
    "params_for_preset",
    "parse_chain",
    "preset_from_json",
    "preset_slug",
    "preview",
    "process_frames",
    "resolve_chain",
    "run_chain",
    "save_preset",
    "write_preview_animation",
]
