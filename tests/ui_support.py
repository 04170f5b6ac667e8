"""Shared helpers of the UI tests (test_ui_*.py): skip without gradio, small demo clips, the A1111 stand-in."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STANDIN = Path(__file__).resolve().parent / "a1111_standin"

needs_gradio = pytest.mark.skipif(
    importlib.util.find_spec("gradio") is None,
    reason="gradio is not installed (run the UI tests in the A1111 or Forge venv: /tmp/va, /tmp/vf)",
)


def small_clip(root: Path, frames: int = 12):
    """A short, small demo clip (source/ and generated/) under ``root``."""
    from abysz_lab.demo import make_demo_clip

    return make_demo_clip(root, frames=frames, width=128, height=96)


def dfi_values(source, generated, output="", **overrides) -> dict:
    """What the DFI tab's controls hold by default, with folders filled in."""
    from abysz_lab import params as prm
    from abysz_lab.dfi import DFIParams

    values = {s.name: float(s.default) if s.kind in (int, float) else s.default for s in prm.specs(DFIParams)}
    values.update(
        source=str(source),
        generated=str(generated),
        output=str(output),
        frames_limit=0,
        overwrite=False,
        resume=True,
        preview_frames="",
    )
    values.update(overrides)
    return values


def forget_standin_modules() -> None:
    """Drop the stand-in's modules (and the loaded entry script) from sys.modules."""
    for name in list(sys.modules):
        if name in {"modules", "launch", "abysz_tab.py"} or name.startswith("modules."):
            del sys.modules[name]
