"""Deflicker playground chains: a preset's steps bound to the controls, streamed over frames.

Steps are temporal filters over a stream of frames. Output ``t`` of a chain
depends only on input frames ``t - lookback .. t + lookahead``, so previews read
just those frames, apply keeps memory bounded by the window, and a resumed run
recomputes the few frames before the resume point instead of storing state.
Each step runs on whichever engine (:mod:`abysz_lab.playground.engines`) was chosen.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from abysz_lab.playground.engines import Engine, Stats, choose_engine
from abysz_lab.playground.presets import PAIR_KINDS, STRENGTH, WINDOW, PlaygroundParams, Preset
from abysz_lab.playground.storage import find_preset

# Rec. 601 luma weights in BGR order: what OpenCV's grey conversion uses.
LUMA_BGR = np.array([0.114, 0.587, 0.299])


@dataclass(frozen=True)
class ResolvedStep:
    """A step with its amount and window made concrete."""

    kind: str
    amount: float
    window: int = 1
    contrast: bool = False

    @property
    def past(self) -> int:
        """Input frames before t this step reads."""
        return 1 if self.kind in PAIR_KINDS else self.window // 2

    @property
    def future(self) -> int:
        """Input frames after t this step reads."""
        return 0 if self.kind in PAIR_KINDS else self.window // 2


@dataclass(frozen=True)
class Chain:
    """A preset with the controls applied: concrete steps and mix."""

    preset: Preset
    steps: tuple[ResolvedStep, ...]
    mix: float

    @property
    def lookback(self) -> int:
        """Input frames before t that output t depends on."""
        return sum(s.past for s in self.steps)

    @property
    def lookahead(self) -> int:
        """Input frames after t that output t depends on."""
        return sum(s.future for s in self.steps)


def resolve_chain(params: PlaygroundParams, *, folder: str | os.PathLike[str] | None = None) -> Chain:
    """Find the preset of ``params`` and bind its strength and window."""
    preset = find_preset(params.preset, folder)
    steps = tuple(
        ResolvedStep(
            s.kind,
            params.strength if s.amount == STRENGTH else float(s.amount),
            (params.window if s.window == WINDOW else int(s.window)) if s.windowed else 1,
            s.contrast,
        )
        for s in preset.steps
    )
    mix = params.strength if preset.mix == STRENGTH else float(preset.mix)
    return Chain(preset, steps, mix)


def _luma(stats: Stats) -> float:
    return float(LUMA_BGR @ stats.means)


def _spread(stats: Stats) -> float:
    """Standard deviation of all B, G and R values together, from the per-channel figures."""
    grand = stats.means.mean()
    return float(np.sqrt(np.mean(stats.stds**2 + (stats.means - grand) ** 2)))


def local_line(indices: Sequence[int], values: np.ndarray, t: int) -> np.ndarray:
    """Least-squares straight line through ``(indices, values)`` evaluated at ``t``.

    On a full centred window this is the plain mean; at the ends of a clip,
    where the window is cut short, the line still follows a real ramp instead
    of flattening it. ``values`` may have several columns, fitted independently.
    """
    x = np.asarray(indices, dtype=np.float64) - t
    y = np.asarray(values, dtype=np.float64)
    if len(x) < 2:
        return y[0]
    xm, ym = x.mean(), y.mean(axis=0)
    var = ((x - xm) ** 2).sum()
    slope = ((x - xm) @ (y - ym)) / var if var > 0 else 0.0
    return ym + slope * (0.0 - xm)


def _mix_coefficients(scale: np.ndarray, offset: np.ndarray, amount: float) -> tuple[np.ndarray, np.ndarray]:
    return amount * scale + (1.0 - amount), amount * offset


def _safe_ratio(num: float, den: float) -> float:
    return num / den if den > 1e-9 else 1.0


def _pair_stage(
    step: ResolvedStep, engine: Engine, upstream: Iterator[tuple[int, Any]], wanted: range | None = None
) -> Iterator[tuple[int, Any]]:
    previous = None
    previous_luma = 0.0
    for index, frame in upstream:
        luma = _luma(engine.stats(frame)) if step.kind == "normalize" else 0.0
        if wanted is not None and index not in wanted:
            pass  # only feeds the next frame (a preview's lead-in): not worth a computation
        elif previous is None:
            out = frame
        elif step.kind == "blend":
            out = engine.weighted(frame, previous, step.amount)
        elif step.kind == "overlay":
            out = engine.weighted(engine.overlay(previous, frame), frame, step.amount)
        else:
            total = previous_luma + luma
            w = previous_luma / total if total > 1e-9 else 0.5
            out = engine.weighted(previous, frame, step.amount * w)
        if wanted is None or index in wanted:
            yield index, out
        previous, previous_luma = frame, luma


def _window_stage(
    step: ResolvedStep, engine: Engine, upstream: Iterator[tuple[int, Any]], wanted: range | None = None
) -> Iterator[tuple[int, Any]]:
    half = step.window // 2
    needs_frames = step.kind in ("temporal_mean", "temporal_median")
    in_lab = step.kind == "colour_lock"  # buffer Lab images: each frame is converted once (see prepare_lab)
    frames: deque[tuple[int, Any]] = deque()  # (index, frame) still needed
    stats: deque[tuple[int, Stats]] = deque()  # (index, stats) for locks

    def sequence_result(current: Any, window: list[Any]) -> Any:
        result = engine.evaluate(window, "mean" if step.kind == "temporal_mean" else "median")
        return result if step.amount >= 1.0 else engine.weighted(result, current, step.amount)

    # ImageMagick's sequence median keeps one core busy per call and Wand's ctypes calls release the GIL:
    # evaluating the next window while this one finishes uses the second core (1.5x at 512x512).
    threaded = needs_frames and getattr(engine, "threads_sequences", False)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="abysz-window") if threaded else None
    lag = 2 if pool is not None else 0  # outputs in flight; the stream reads this many frames further ahead
    pending: deque[tuple[int, Any]] = deque()  # (index, result or Future of it)

    def emit(t: int) -> Any:
        current = next(f for i, f in frames if i == t)
        if needs_frames:
            window = [f for i, f in frames if t - half <= i <= t + half]  # taken now: the buffer moves on
            if pool is None:
                return sequence_result(current, window)
            return pool.submit(sequence_result, current, window)
        window_stats = [(i, s) for i, s in stats if t - half <= i <= t + half]
        own = next(s for i, s in window_stats if i == t)
        idx = [i for i, _ in window_stats]
        if step.kind == "brightness_lock":
            values = np.array([[_luma(s), _spread(s)] for _, s in window_stats])
            target_luma, target_spread = local_line(idx, values, t)
            luma, spread = _luma(own), _spread(own)
            if step.contrast:
                c = _safe_ratio(target_spread, spread)
                scale, offset = np.full(3, c), np.full(3, target_luma - c * luma)
            else:
                scale, offset = np.full(3, _safe_ratio(target_luma, luma)), np.zeros(3)
            return engine.affine(current, *_mix_coefficients(scale, offset, step.amount))
        values = np.array([np.concatenate([s.means, s.stds]) for _, s in window_stats])
        target = local_line(idx, values, t)
        scale = np.array([_safe_ratio(target[3 + c], own.stds[c]) for c in range(3)])
        offset = target[:3] - scale * own.means
        return engine.lab_affine(current, *_mix_coefficients(scale, offset, step.amount))

    def finished(flush: bool = False) -> Iterator[tuple[int, Any]]:
        while pending and (flush or len(pending) > lag):
            t, result = pending.popleft()
            yield t, result.result() if isinstance(result, Future) else result

    next_out: int | None = None
    try:
        for index, frame in upstream:
            if next_out is None:
                next_out = index
            if in_lab:
                frame = engine.prepare_lab(frame)
            frames.append((index, frame))
            if not needs_frames:
                s = engine.lab_stats(frame) if in_lab else engine.stats(frame)
                stats.append((index, s))
            while index >= next_out + half:
                if wanted is None or next_out in wanted:
                    pending.append((next_out, emit(next_out)))
                    yield from finished()
                next_out += 1
                _drop_before(frames, next_out - (half if needs_frames else 0))
                _drop_before(stats, next_out - half)
        while frames and next_out is not None:
            last = frames[-1][0]
            if next_out > last:
                break
            if wanted is None or next_out in wanted:
                pending.append((next_out, emit(next_out)))
                yield from finished()
            next_out += 1
            _drop_before(frames, next_out - (half if needs_frames else 0))
            _drop_before(stats, next_out - half)
        yield from finished(flush=True)
    finally:
        if pool is not None:
            for _, fut in pending:
                fut.cancel()
            pool.shutdown(wait=True)


def _drop_before(buffer: deque, index: int) -> None:
    while buffer and buffer[0][0] < index:
        buffer.popleft()


def run_chain(
    chain: Chain, engine: Engine, frames: Iterable[tuple[int, np.ndarray]], *, only: range | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Stream ``(index, 8-bit BGR frame)`` pairs through the chain; yield ``(index, 8-bit BGR result)``.

    Indices must be consecutive. Outputs within ``chain.lookback`` frames of
    the first index see a truncated history: drop them unless the stream
    starts at the clip's first frame. ``only`` limits the work to the outputs
    in that range (each step computes just what the later steps read); the
    frames around it must still be streamed in.
    """
    inputs: deque[tuple[int, Any]] = deque()

    def loaded() -> Iterator[tuple[int, Any]]:
        for index, image in frames:
            item = engine.load(image)
            if chain.mix < 1.0:
                inputs.append((index, item))
            yield index, item

    # What each step must produce: the final range, widened by what the later steps read around it.
    wanted: list[range | None] = [None] * len(chain.steps)
    if only is not None:
        low, high = only.start, only.stop
        for position in range(len(chain.steps) - 1, -1, -1):
            wanted[position] = range(max(0, low), high)
            low, high = low - chain.steps[position].past, high + chain.steps[position].future
    stream: Iterator[tuple[int, Any]] = loaded()
    for step, step_wanted in zip(chain.steps, wanted, strict=True):
        stage = _pair_stage if step.kind in PAIR_KINDS else _window_stage
        stream = stage(step, engine, stream, step_wanted)
    for index, result in stream:
        if chain.mix < 1.0:
            _drop_before(inputs, index)
            result = engine.weighted(result, inputs[0][1], chain.mix)
        yield index, engine.export(result)


def process_frames(
    frames: Sequence[np.ndarray],
    params: PlaygroundParams | None = None,
    *,
    engine: str | None = None,
    folder: str | os.PathLike[str] | None = None,
) -> list[np.ndarray]:
    """Run a preset on an in-memory clip of 8-bit BGR frames; return the results (for tests and notebooks)."""
    params = params or PlaygroundParams()
    chain = resolve_chain(params, folder=folder)
    chosen = choose_engine(engine or params.engine)
    return [out for _, out in run_chain(chain, chosen.engine, enumerate(frames))]
