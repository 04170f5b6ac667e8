"""Abysz LAB: temporal coherence for AI video.

The core is host-independent: it imports neither A1111's ``modules`` nor
gradio. Front ends (the A1111/Forge tab, the standalone web UI, the CLI, the
HTTP API) call the functions below, which are also the Python API::

    import abysz_lab

    result = abysz_lab.stabilise("original.mp4", "img2img.mp4", "result.mp4", compare=True)
    print(result.video.output, [str(path) for _, path in result.files()])

The names load lazily (``import abysz_lab`` imports neither OpenCV nor
ffmpeg helpers until one is used), so importing the package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# public name -> module that defines it
_EXPORTS = {
    # the whole trip
    "stabilise": "abysz_lab.pipeline",
    "StabiliseResult": "abysz_lab.pipeline",
    "PhaseProgress": "abysz_lab.pipeline",
    # DFI
    "run_dfi": "abysz_lab.dfi",
    "iter_dfi": "abysz_lab.dfi",
    "iter_dfi_frames": "abysz_lab.dfi",
    "preview_masks": "abysz_lab.dfi",
    "DFIParams": "abysz_lab.dfi",
    # deflicker presets
    "apply_preset": "abysz_lab.playground",
    "list_presets": "abysz_lab.playground",
    "params_for_preset": "abysz_lab.playground",
    "PlaygroundParams": "abysz_lab.playground",
    # video
    "extract_frames": "abysz_lab.video",
    "assemble_video": "abysz_lab.video",
    "compare_videos": "abysz_lab.video",
    "fuse_style": "abysz_lab.fuse",
    "probe_video": "abysz_lab.video",
    "ExtractParams": "abysz_lab.video",
    "AssembleParams": "abysz_lab.video",
    "CompareParams": "abysz_lab.video",
    "FuseParams": "abysz_lab.fuse",
    # analysis
    "analyze_folders": "abysz_lab.analysis",
    "write_report": "abysz_lab.analysis",
    "AnalysisParams": "abysz_lab.analysis",
    # running
    "CancelToken": "abysz_lab.jobs",
    "Progress": "abysz_lab.jobs",
    "RunSummary": "abysz_lab.jobs",
    # errors
    "AbyszError": "abysz_lab.errors",
    "InputError": "abysz_lab.errors",
    "Cancelled": "abysz_lab.errors",
    "MissingDependencyError": "abysz_lab.errors",
}

__all__ = [  # noqa: RUF022 - grouped like _EXPORTS, not sorted
    "__version__",
    "stabilise",
    "StabiliseResult",
    "PhaseProgress",
    "run_dfi",
    "iter_dfi",
    "iter_dfi_frames",
    "preview_masks",
    "DFIParams",
    "apply_preset",
    "list_presets",
    "params_for_preset",
    "PlaygroundParams",
    "extract_frames",
    "assemble_video",
    "compare_videos",
    "fuse_style",
    "probe_video",
    "ExtractParams",
    "AssembleParams",
    "CompareParams",
    "FuseParams",
    "analyze_folders",
    "write_report",
    "AnalysisParams",
    "CancelToken",
    "Progress",
    "RunSummary",
    "AbyszError",
    "InputError",
    "Cancelled",
    "MissingDependencyError",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'abysz_lab' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, for tab completion."""
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from abysz_lab.analysis import AnalysisParams, analyze_folders, write_report
    from abysz_lab.dfi import DFIParams, iter_dfi, iter_dfi_frames, preview_masks, run_dfi
    from abysz_lab.errors import AbyszError, Cancelled, InputError, MissingDependencyError
    from abysz_lab.fuse import FuseParams, fuse_style
    from abysz_lab.jobs import CancelToken, Progress, RunSummary
    from abysz_lab.pipeline import PhaseProgress, StabiliseResult, stabilise
    from abysz_lab.playground import PlaygroundParams, apply_preset, list_presets, params_for_preset
    from abysz_lab.video import (
        AssembleParams,
        CompareParams,
        ExtractParams,
        assemble_video,
        compare_videos,
        extract_frames,
        probe_video,
    )
