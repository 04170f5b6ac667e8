"""Deflicker playground engines: the same few operations on ImageMagick (through Wand) or on numpy/OpenCV.

A chain of steps (:mod:`abysz_lab.playground.chain`) only calls the methods
both engines share (load/export, weighted sums, the overlay blend mode,
evaluate-sequence mean/median, per-channel statistics and affine corrections,
in BGR or Lab), so a preset never cares which one runs it. ImageMagick is
imported lazily: :func:`choose_engine` with ``"auto"`` falls back to numpy with
a one-sentence install hint when it does not load.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from abysz_lab.errors import InputError, MissingDependencyError

ENGINES = ("auto", "wand", "numpy")

# Rec. 709 luma weights in BGR order: the intensity ImageMagick sorts by in its sequence median.
MEDIAN_INTENSITY_BGR = np.array([0.0722, 0.7152, 0.2126], dtype=np.float32)


@dataclass(frozen=True)
class Stats:
    """Per-channel means and standard deviations of a frame, in the engine's own units."""

    means: np.ndarray  # (3,)
    stds: np.ndarray  # (3,)


def missing_wand_message(platform: str | None = None, reason: str = "") -> str:
    """One actionable sentence saying how to make ImageMagick available to Wand on ``platform``."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        how = (
            "install ImageMagick's Windows DLL build (tick 'Install development headers and libraries') and set "
            "the MAGICK_HOME environment variable to its folder, then restart the WebUI"
        )
    elif platform == "darwin":
        how = "run `brew install imagemagick` (and set MAGICK_HOME=$(brew --prefix imagemagick) if Wand still fails)"
    else:
        how = (
            "install your distribution's MagickWand package (Debian/Ubuntu: `sudo apt install "
            "libmagickwand-6.q16-6`; Fedora: `sudo dnf install ImageMagick-libs`)"
        )
    detail = f" ({reason})" if reason else ""
    return (
        f"ImageMagick could not be loaded through Wand{detail}: {how}; until then the numpy/OpenCV engine runs "
        "the same presets."
    )


def _import_wand_image():
    """Import ``wand.image`` or raise MissingDependencyError with the install hint."""
    try:
        import wand.image
    except ImportError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MissingDependencyError(missing_wand_message(reason=reason[:160])) from exc
    if not hasattr(wand.image.Image, "evaluate_images"):  # the temporal presets need Wand >= 0.7
        import wand.version

        msg = (
            f"Wand {wand.version.VERSION} is too old for the temporal presets (it needs 0.7 or newer): "
            "run `pip install -U Wand` in the WebUI's Python environment and restart; the numpy engine is "
            "used meanwhile."
        )
        raise MissingDependencyError(msg)
    return wand.image


@dataclass(frozen=True)
class EngineStatus:
    """Whether ImageMagick is usable, and one sentence for the UI."""

    wand_available: bool
    message: str
    version: str = ""


def engine_status() -> EngineStatus:
    """Check (without failing) whether the Wand engine can run; the message says what to do if not."""
    try:
        _import_wand_image()
        import wand.version
    except MissingDependencyError as exc:
        return EngineStatus(False, str(exc))
    version = str(wand.version.MAGICK_VERSION).split(" https")[0]
    return EngineStatus(True, f"Engine: {version} through Wand {wand.version.VERSION}.", version)


class NumpyEngine:
    """The step kinds on numpy/OpenCV; frames are BGR arrays (uint8 as read, float32 after a step)."""

    name = "numpy"

    def load(self, image: np.ndarray) -> np.ndarray:
        """Take an 8-bit BGR frame into the engine."""
        return image

    def export(self, frame: np.ndarray) -> np.ndarray:
        """Return an engine frame as 8-bit BGR."""
        if frame.dtype == np.uint8:
            return frame
        return np.clip(np.rint(frame), 0, 255).astype(np.uint8)

    def weighted(self, a: np.ndarray, b: np.ndarray, weight_a: float) -> np.ndarray:
        """``weight_a * a + (1 - weight_a) * b``."""
        return cv2.addWeighted(a, weight_a, b, 1.0 - weight_a, 0.0, dtype=cv2.CV_32F)

    def overlay(self, base: np.ndarray, top: np.ndarray) -> np.ndarray:
        """The overlay blend mode: multiply where ``base`` is dark, screen where it is light.

        The only copy of the formula: :func:`abysz_lab.fuse.overlay_blend` uses it too.
        """
        b = base.astype(np.float32) * np.float32(1 / 255)
        t = top.astype(np.float32) * np.float32(1 / 255)
        out = np.where(b < 0.5, 2 * b * t, 1 - 2 * (1 - b) * (1 - t))
        return out * np.float32(255)

    def evaluate(self, frames: Sequence[np.ndarray], operator: str) -> np.ndarray:
        """Per-pixel ``mean``, or ``median`` as ImageMagick defines it for a sequence.

        ImageMagick's evaluate-sequence Median sorts each pixel's colours by
        intensity (Rec. 709 luma) and takes the whole colour in the middle (the
        darker one of an even pair), so no new colours appear; this matches it.
        """
        if len(frames) == 1:
            return frames[0].astype(np.float32)
        stack = np.stack([f.astype(np.float32) for f in frames])
        if operator == "mean":
            return stack.mean(axis=0)
        intensity = stack @ MEDIAN_INTENSITY_BGR
        middle = np.argsort(intensity, axis=0, kind="stable")[(len(frames) - 1) // 2]
        return np.take_along_axis(stack, middle[None, :, :, None], axis=0)[0]

    def stats(self, frame: np.ndarray) -> Stats:
        """Per-channel (B, G, R) mean and spread in grey levels."""
        means, stds = cv2.meanStdDev(frame)
        return Stats(means.ravel(), stds.ravel())

    def affine(self, frame: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Per-channel ``scale * x + offset`` (B, G, R order), clipped to the 8-bit range."""
        out = frame.astype(np.float32) * scale.astype(np.float32) + offset.astype(np.float32)
        return np.clip(out, 0, 255, out=out)

    def _lab(self, frame: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(frame.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_BGR2Lab)

    def prepare_lab(self, frame: np.ndarray) -> np.ndarray:
        """What :meth:`lab_stats` and :meth:`lab_affine` take: the frame itself.

        A float Lab copy would quadruple the memory of a colour lock's window,
        and the conversion is cheap here, so it is done where needed.
        """
        return frame

    def lab_stats(self, frame: np.ndarray) -> Stats:
        """Mean and spread of L, a and b (OpenCV's float Lab units) of a :meth:`prepare_lab` frame."""
        means, stds = cv2.meanStdDev(self._lab(frame))
        return Stats(means.ravel(), stds.ravel())

    def lab_affine(self, frame: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Per-channel ``scale * x + offset`` in Lab of a :meth:`prepare_lab` frame, back to BGR."""
        lab = self._lab(frame) * scale.astype(np.float32) + offset.astype(np.float32)
        out = cv2.cvtColor(lab, cv2.COLOR_Lab2BGR) * np.float32(255)
        return np.clip(out, 0, 255, out=out)


class WandEngine:
    """The step kinds on ImageMagick through Wand; frames are Wand images (16-bit quantum)."""

    name = "wand"
    threads_sequences = True  # evaluate() releases the GIL (ctypes) and uses one core: run two at once
    _CHANNELS_BGR = ("blue", "green", "red")
    _CHANNELS_LAB = ("red", "green", "blue")  # ImageMagick keeps L, a, b in its first three channels

    def __init__(self) -> None:
        self._image = _import_wand_image().Image

    def load(self, image: np.ndarray):
        """Take an 8-bit BGR frame into ImageMagick."""
        return self._image.from_array(np.ascontiguousarray(image), channel_map="BGR")

    def export(self, frame) -> np.ndarray:
        """Return a Wand image as 8-bit BGR."""
        rgb = np.asarray(frame)
        if rgb.ndim == 2 or rgb.shape[2] == 1:
            return cv2.cvtColor(rgb.reshape(rgb.shape[0], rgb.shape[1]), cv2.COLOR_GRAY2BGR)
        return np.ascontiguousarray(rgb[:, :, 2::-1])

    def weighted(self, a, b, weight_a: float):
        """``weight_a * a + (1 - weight_a) * b`` with ImageMagick's Blend compose."""
        out = b.clone()
        out.composite(a, operator="blend", arguments=f"{100 * weight_a:.6f},{100 * (1 - weight_a):.6f}")
        return out

    def overlay(self, base, top):
        """ImageMagick's Overlay compose with ``base`` as the destination."""
        out = base.clone()
        out.composite(top, operator="overlay")
        return out

    def evaluate(self, frames: Sequence[Any], operator: str):
        """ImageMagick's evaluate-sequence ``mean`` or ``median`` over the frames."""
        if len(frames) == 1:
            return frames[0].clone()
        stack = frames[0].clone()
        for frame in frames[1:]:
            stack.image_add(frame)
        result = stack.evaluate_images(operator)
        stack.destroy()
        return result

    def _stats(self, image, channels: tuple[str, ...]) -> Stats:
        q = float(image.quantum_range)
        pairs = [image.mean_channel(c) for c in channels]
        return Stats(np.array([m for m, _ in pairs]) / q, np.array([s for _, s in pairs]) / q)

    def stats(self, frame) -> Stats:
        """Per-channel (B, G, R) mean and spread, in 0..1 units."""
        return self._stats(frame, self._CHANNELS_BGR)

    def _functions(self, image, scale: np.ndarray, offset: np.ndarray, channels: tuple[str, ...]) -> None:
        if np.allclose(scale, scale[0]) and np.allclose(offset, offset[0]):
            image.function("polynomial", [float(scale[0]), float(offset[0])])
            return
        for channel, s, o in zip(channels, scale, offset, strict=True):
            image.function("polynomial", [float(s), float(o)], channel=channel)

    def affine(self, frame, scale: np.ndarray, offset: np.ndarray):
        """Per-channel ``scale * x + offset`` (B, G, R order, 0..1 units) with ImageMagick's polynomial."""
        out = frame.clone()
        self._functions(out, scale, offset, self._CHANNELS_BGR)
        return out

    def prepare_lab(self, frame):
        """A Lab copy of the frame, for :meth:`lab_stats` and :meth:`lab_affine`.

        The colourspace round trip is the costly part of a colour lock, so each
        frame is converted once and its Lab image serves both its statistics
        and, later, its correction.
        """
        lab = frame.clone()
        lab.transform_colorspace("lab")
        return lab

    def lab_stats(self, lab) -> Stats:
        """Mean and spread of ImageMagick's L, a and b channels of a :meth:`prepare_lab` image, in 0..1 units."""
        return self._stats(lab, self._CHANNELS_LAB)

    def lab_affine(self, lab, scale: np.ndarray, offset: np.ndarray):
        """Per-channel ``scale * x + offset`` on a :meth:`prepare_lab` image, back to sRGB."""
        out = lab.clone()
        self._functions(out, scale, offset, self._CHANNELS_LAB)
        out.transform_colorspace("srgb")
        return out


Engine = NumpyEngine | WandEngine


@dataclass(frozen=True)
class EngineChoice:
    """The engine that will run, and why (the fallback sentence when ImageMagick is missing)."""

    engine: Engine
    message: str = ""


def choose_engine(choice: str = "auto") -> EngineChoice:
    """Return the engine for ``choice`` ("auto", "wand", "numpy").

    "auto" falls back to numpy with the install hint as the message; "wand"
    raises MissingDependencyError when ImageMagick cannot be loaded.
    """
    if choice not in ENGINES:
        msg = f"Engine must be one of {', '.join(ENGINES)}, got {choice!r}."
        raise InputError(msg)
    if choice == "numpy":
        return EngineChoice(NumpyEngine())
    try:
        return EngineChoice(WandEngine())
    except MissingDependencyError as exc:
        if choice == "wand":
            raise
        return EngineChoice(NumpyEngine(), str(exc))
