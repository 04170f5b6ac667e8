"""Shared fixtures: tiny synthetic clips written to real files in tmp_path."""

from __future__ import annotations

import builtins
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest


def write_frames(folder: Path, frames: Sequence[np.ndarray], *, pattern: str = "frame_{:03d}.png") -> list[Path]:
    """Write each array with cv2.imencode (bytes, so unicode paths work) and return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        path = folder / pattern.format(i)
        ok, buf = cv2.imencode(path.suffix, frame)
        assert ok
        path.write_bytes(buf.tobytes())
        paths.append(path)
    return paths


def read_back(path: Path) -> np.ndarray:
    """Decode a written frame exactly as stored."""
    return cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)


def tree_digest(folder: Path) -> dict[str, str]:
    """Map every file under ``folder`` to the SHA-256 of its bytes (to prove inputs are untouched)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    } | {str(p.relative_to(folder)) + "/": "dir" for p in folder.rglob("*") if p.is_dir()}


def static_scene(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A textured still frame."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (5, 5), 0)
    return cv2.normalize(base, None, 30, 220, cv2.NORM_MINMAX)


def noisy_copies(frame: np.ndarray, count: int, sigma: float = 12.0, seed: int = 1) -> list[np.ndarray]:
    """Independently noisy versions of ``frame``: what img2img does to a still scene."""
    rng = np.random.default_rng(seed)
    return [np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8) for _ in range(count)]


@pytest.fixture
def still_clip(tmp_path: Path) -> tuple[Path, Path]:
    """A still 64x48 source of 8 frames and 8 independently noisy generated frames."""
    scene = static_scene()
    source = tmp_path / "source"
    generated = tmp_path / "generated"
    write_frames(source, [scene] * 8)
    write_frames(generated, noisy_copies(scene, 8))
    return source, generated


@pytest.fixture
def no_magickwand(monkeypatch):
    """Make ``import wand.image`` fail as it does when the MagickWand library is missing."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "wand" or name.startswith("wand."):
            raise ImportError("MagickWand shared library not found.")
        return real_import(name, *args, **kwargs)

    for name in [m for m in sys.modules if m == "wand" or m.startswith("wand.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", fake_import)


@pytest.fixture(autouse=True)
def _process_wide_access_settings_restored():
    """Tests that set the folder policy or the frame limit (launchers, the A1111 tab) do not leak them."""
    from abysz_lab import access, frames

    policy, limits = access.current_policy(), frames.frame_limits()
    yield
    access.set_policy(policy)
    frames.set_frame_limits(limits)
