"""Motion-aware DFI: classic mode unchanged, motion mode steadier under camera motion, resume, cuts."""

from __future__ import annotations

import hashlib
import json
import threading

import cv2
import numpy as np
import pytest
from conftest import read_back, write_frames

from abysz_lab.demo import add_ai_flicker, demo_background, make_demo_clip, stylise
from abysz_lab.dfi import DFIParams, iter_dfi, iter_dfi_frames, preview_masks, run_dfi
from abysz_lab.errors import Cancelled, InputError
from abysz_lab.jobs import CancelToken
from abysz_lab.motion import LightResponse, run_pass

# sha256 over the decoded pixels of a classic run (DFIParams() defaults) of the demo clip, taken before
# motion mode was added. OpenCV versions round some filters differently, so there is one digest per
# OpenCV major.minor (the test environments pin it: 4.11 for A1111 and Forge, 5.1 for numpy2). The 5.1
# digest was recorded when 5.1 arrived, at a commit whose 4.11 digest still matched the pre-motion one.
CLASSIC_DEMO_DIGESTS = {
    "4.11": "44e61de06f680d98397257252a4b6351c189640ab5d0e203b575b712b747ceab",
    "5.0": "7ee8331d69bb440bb6757cc72aa09b4d50b8f92c4cb2b48c0a14ba3ab10b66ea",
    "5.1": "f62d5448f942f72477f8fa5e00a616c12e51b2dcc9f7ee96830db8ea755c47c2",
}


def test_classic_mode_output_is_byte_identical_to_before_motion_mode(tmp_path):
    expected = CLASSIC_DEMO_DIGESTS.get(".".join(cv2.__version__.split(".")[:2]))
    if expected is None:  # a new OpenCV: record its digest at a commit where a known version still matches
        pytest.skip(f"no recorded digest for OpenCV {cv2.__version__}")
    clip = make_demo_clip(tmp_path / "demo")
    summary = run_dfi(clip.source, clip.generated, tmp_path / "out", DFIParams())
    digest = hashlib.sha256()
    for path in summary.outputs:
        digest.update(cv2.imread(str(path), cv2.IMREAD_UNCHANGED).tobytes())
    assert digest.hexdigest() == expected


# --- motion mode ---------------------------------------------------------------------------------------

MOTION = DFIParams(mode="motion")
BOTH = DFIParams(mode="motion", passes="forward+backward")
STEP = 3  # px per frame of the test pan


def _pan_clip(frames: int = 14, h: int = 96, w: int = 128, seed: int = 0):
    """A camera panning STEP px per frame over a textured scene: source, clean stylised, flickering generated."""
    rng = np.random.default_rng(seed + 1)
    wide = demo_background(w + STEP * frames, h, seed=seed).astype(np.float32)
    texture = cv2.GaussianBlur(rng.normal(0, 25, wide.shape[:2]).astype(np.float32), (0, 0), 1.5)
    wide = np.clip(wide + texture[..., None], 0, 255).astype(np.uint8)  # detail everywhere, like a photograph
    sources = [np.ascontiguousarray(wide[:, STEP * t : STEP * t + w]) for t in range(frames)]
    clean = [stylise(s) for s in sources]
    generated = [add_ai_flicker(c, rng) for c in clean]
    return sources, clean, generated


def _pan_change(frames: list[np.ndarray]) -> float:
    """Mean change between consecutive frames after undoing the known pan (grey levels)."""
    return float(
        np.mean([cv2.absdiff(b[:, :-STEP], a[:, STEP:]).mean() for a, b in zip(frames, frames[1:], strict=False)])
    )


def test_motion_mode_steadies_a_panning_clip_far_more_than_classic():
    sources, clean, generated = _pan_clip()
    gen, ideal = _pan_change(generated), _pan_change(clean)
    removed = {}
    for name, params in (("classic", DFIParams()), ("motion", MOTION)):
        out = list(iter_dfi(sources, generated, params))
        removed[name] = (gen - _pan_change(out)) / (gen - ideal)
    # Measured: classic 0.40 (the pan makes nearly every textured pixel "move"), motion 0.80. Carrying the
    # previous output without warping it, or refreshing everything the flow check rejects, stays near classic.
    assert removed["motion"] > 0.7, removed
    assert removed["motion"] > removed["classic"] + 0.3, removed


def test_motion_mode_output_is_closer_to_the_clean_clip_than_the_generated_frames():
    sources, clean, generated = _pan_clip(frames=16)
    out = list(iter_dfi(sources, generated, MOTION))
    gen_err = np.mean([cv2.absdiff(g, c).mean() for g, c in zip(generated[8:], clean[8:], strict=True)])
    out_err = np.mean([cv2.absdiff(o, c).mean() for o, c in zip(out[8:], clean[8:], strict=True)])
    assert out_err < 0.75 * gen_err, (out_err, gen_err)


def _write_clip(root, sources, generated, ext=".png"):
    write_frames(root / "src", sources)
    write_frames(root / "gen", generated, pattern="frame_{:03d}" + ext)
    return root / "src", root / "gen"


@pytest.mark.parametrize("params", [MOTION, BOTH], ids=["forward", "forward+backward"])
def test_motion_iter_dfi_equals_run_dfi(tmp_path, params):
    sources, _, generated = _pan_clip(frames=8)
    src, gen = _write_clip(tmp_path, sources, generated)
    summary = run_dfi(src, gen, tmp_path / "out", params)
    in_memory = list(iter_dfi(sources, generated, params))
    assert len(in_memory) == 8
    for path, frame in zip(summary.outputs, in_memory, strict=True):
        assert np.array_equal(read_back(path), frame), path.name
    assert not np.array_equal(in_memory[5], generated[5])  # and it did something


def _cancel_after(n: int, token: CancelToken):
    def on_progress(p):
        if p.done >= n:
            token.cancel()

    return on_progress


@pytest.mark.parametrize(
    ("params", "ext"), [(MOTION, ".png"), (MOTION, ".jpg"), (BOTH, ".png")], ids=["forward-png", "forward-jpg", "both"]
)
def test_motion_resume_after_cancel_is_byte_identical_to_an_uninterrupted_run(tmp_path, params, ext):
    sources, _, generated = _pan_clip(frames=12)
    src, gen = _write_clip(tmp_path, sources, generated, ext)
    reference = run_dfi(src, gen, tmp_path / "reference", params)
    token = CancelToken()
    out = tmp_path / "out"
    with pytest.raises(Cancelled, match="Cancelled after"):
        run_dfi(src, gen, out, params, progress=_cancel_after(4, token), cancel=token)
    record = json.loads((out / ".dfi.abysz.json").read_text())
    assert 4 <= record["completed"] < 12
    resumed = run_dfi(src, gen, out, params)
    assert resumed.resumed_from == record["completed"]
    for a, b in zip(reference.outputs, resumed.outputs, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_two_passes_after_a_frames_limit_run_start_over_rather_than_keep_truncated_frames(tmp_path):
    """A 6-frame trial's backward pass starts at frame 6, not at the clip's end: its frames are not the full run's."""
    sources, _, generated = _pan_clip(frames=12)
    src, gen = _write_clip(tmp_path, sources, generated)
    reference = run_dfi(src, gen, tmp_path / "reference", BOTH)
    out = tmp_path / "out"
    trial = run_dfi(src, gen, out, BOTH, frames_limit=6)
    assert trial.written == 6
    full = run_dfi(src, gen, out, BOTH)
    # Resuming at frame 6 would keep the trial's frames, computed with a backward pass cut short.
    assert full.resumed_from == 0
    assert any("starting over" in w for w in full.warnings)
    for a, b in zip(reference.outputs, full.outputs, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_one_pass_after_a_frames_limit_run_resumes_it(tmp_path):
    """Forward-only motion mode is causal: a trial run's frames are the full run's, so they are kept."""
    sources, _, generated = _pan_clip(frames=10)
    src, gen = _write_clip(tmp_path, sources, generated)
    out = tmp_path / "out"
    run_dfi(src, gen, out, MOTION, frames_limit=4)
    assert run_dfi(src, gen, out, MOTION).resumed_from == 4


@pytest.mark.parametrize(
    ("params", "ext"), [(MOTION, ".png"), (BOTH, ".png"), (DFIParams(), ".jpg")], ids=["forward", "both", "classic-jpg"]
)
def test_a_finished_run_run_again_reads_no_frame(tmp_path, monkeypatch, params, ext):
    """'Nothing to do' costs nothing: motion mode (and classic with JPEG output) would recompute the whole clip."""
    from abysz_lab import dfi

    sources, _, generated = _pan_clip(frames=8)
    src, gen = _write_clip(tmp_path, sources, generated, ext)
    run_dfi(src, gen, tmp_path / "out", params)
    reads = []
    real = dfi._read_pair
    monkeypatch.setattr(dfi, "_read_pair", lambda *a, **k: reads.append(a) or real(*a, **k))
    again = run_dfi(src, gen, tmp_path / "out", params)
    assert again.resumed_from == 8
    assert "nothing to do" in again.describe()
    assert reads == []


def test_a_resumed_motion_run_reports_and_can_be_cancelled_while_it_catches_up(tmp_path):
    """Resuming recomputes the frames on disk first (the flow state): that stretch shows progress and obeys Cancel."""
    sources, _, generated = _pan_clip(frames=12)
    src, gen = _write_clip(tmp_path, sources, generated)
    out = tmp_path / "out"
    first = CancelToken()
    with pytest.raises(Cancelled):
        run_dfi(src, gen, out, MOTION, progress=_cancel_after(6, first), cancel=first)
    completed = json.loads((out / ".dfi.abysz.json").read_text())["completed"]
    assert completed >= 6
    again, seen = CancelToken(), []

    def on_progress(p):
        seen.append(p.message)
        if p.message.startswith("Catching up"):
            again.cancel()

    with pytest.raises(Cancelled, match=f"after {completed} of 12"):
        run_dfi(src, gen, out, MOTION, progress=on_progress, cancel=again)
    # Stopped at the first frame after the click, within the catching up, not once it was over.
    assert [m for m in seen if m.startswith("Catching up")] == [f"Catching up: frame 1 of {completed} on disk"]
    assert json.loads((out / ".dfi.abysz.json").read_text())["completed"] == completed


def test_in_memory_two_passes_stop_on_cancel_during_the_forward_pass():
    sources, _, generated = _pan_clip(frames=8)
    token = CancelToken()
    frames = iter_dfi_frames(sources, generated, BOTH, cancel=token)
    next(frames), next(frames)
    token.cancel()
    with pytest.raises(Cancelled, match="nothing was written"):
        list(frames)


def test_cancel_during_the_backward_pass_writes_nothing(tmp_path):
    sources, _, generated = _pan_clip(frames=8)
    src, gen = _write_clip(tmp_path, sources, generated)
    token = CancelToken()

    def on_progress(p):
        if "Backward" in p.message:
            token.cancel()

    with pytest.raises(Cancelled, match="nothing was written"):
        run_dfi(src, gen, tmp_path / "out", BOTH, progress=on_progress, cancel=token)
    assert not list((tmp_path / "out").glob("*.png"))


def _spliced_clip():
    first, _, gen_a = _pan_clip(frames=7, seed=0)
    second, _, gen_b = _pan_clip(frames=6, seed=5)
    second = [cv2.flip(s, -1) for s in second]  # another shot, other layout
    gen_b = [cv2.flip(g, -1) for g in gen_b]
    return first + second, gen_a + gen_b


@pytest.mark.parametrize("params", [MOTION, BOTH], ids=["forward", "forward+backward"])
def test_a_scene_cut_restarts_the_recursion_and_is_listed(tmp_path, params):
    sources, generated = _spliced_clip()
    src, gen = _write_clip(tmp_path, sources, generated)
    summary = run_dfi(src, gen, tmp_path / "out", params)
    assert summary.cuts == [7]
    assert "1 scene cut(s) at frame(s) 8" in summary.describe()  # counted from 1
    frames = list(iter_dfi_frames(sources, generated, params))
    assert [f.index for f in frames if f.cut] == [7]
    # Nothing of the old shot is carried into the new one: the first frame of the new shot is made of the new
    # shot's frames only (close to its generated frame; far from every frame of the old shot).
    assert cv2.absdiff(frames[7].output, generated[7]).mean() < 12
    assert all(cv2.absdiff(frames[7].output, f.output).mean() > 30 for f in frames[:7])


def test_the_summary_lists_the_first_cuts_counted_from_1_and_says_when_there_are_more(tmp_path):
    from abysz_lab.jobs import RunSummary

    summary = RunSummary("DFI", tmp_path, written=40, total=40, seconds=1.0, cuts=list(range(2, 30, 2)))
    assert "14 scene cut(s) at frame(s) 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, ..." in summary.describe()
    assert "at frame(s) 8." in RunSummary("DFI", tmp_path, written=9, total=9, seconds=1.0, cuts=[7]).describe()


def test_motion_mode_follows_a_real_dimming_that_classic_freezes():
    still = demo_background(128, 96, seed=2).astype(np.float32)
    sources = [np.clip(still * (1.0 - 0.025 * t) + 0.5, 0, 255).astype(np.uint8) for t in range(14)]
    rng = np.random.default_rng(4)
    generated = [add_ai_flicker(stylise(s), rng, amount=0.5) for s in sources]
    depth_gen = generated[0].mean() - generated[-1].mean()
    out = list(iter_dfi(sources, generated, MOTION))
    classic = list(iter_dfi(sources, generated, DFIParams()))
    depth_out = out[0].mean() - out[-1].mean()
    depth_classic = classic[0].mean() - classic[-1].mean()
    assert depth_out > 0.85 * depth_gen, (depth_out, depth_gen)  # classic keeps about a third
    assert depth_classic < 0.6 * depth_gen, (depth_classic, depth_gen)


def test_motion_tolerance_zero_outputs_the_generated_frames():
    sources, _, generated = _pan_clip(frames=5)
    out = list(iter_dfi(sources, generated, DFIParams(mode="motion", tolerance=0)))
    assert all(np.array_equal(o, g) for o, g in zip(out, generated, strict=True))


def test_two_passes_keep_memory_flat_by_spilling_to_a_temporary_folder(tmp_path, monkeypatch):
    """The backward pass goes to disk (and is cleaned up), not into a list in memory."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    sources, _, generated = _pan_clip(frames=6)
    seen = []
    for _frame in iter_dfi(sources, generated, BOTH):
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
    assert any(names for names in seen)  # a spill folder existed while frames were produced
    assert list(tmp_path.iterdir()) == []  # and is gone afterwards


def test_preview_at_tolerance_zero_holds_nothing_as_the_run_does(tmp_path):
    sources, _, generated = _pan_clip(frames=4)
    src, gen = _write_clip(tmp_path, sources, generated)
    for mode in ("classic", "motion"):
        (item,) = preview_masks(src, gen, DFIParams(mode=mode, tolerance=0), indices=[2])
        assert item.held_pct == 0.0 and not item.mask.any(), mode


def test_motion_preview_shows_the_pan_held_where_classic_shows_it_moving(tmp_path):
    sources, _, generated = _pan_clip(frames=4)
    src, gen = _write_clip(tmp_path, sources, generated)
    (classic,) = preview_masks(src, gen, DFIParams(), indices=[2])
    (motion,) = preview_masks(src, gen, MOTION, indices=[2])
    assert motion.held_pct > 80.0, motion.held_pct
    assert classic.held_pct < 65.0, classic.held_pct  # measured 57 %
    assert not motion.mask[:, -STEP:].any()  # the strip entering the frame has nothing to carry


def test_motion_mode_refuses_frames_too_small_to_follow_with_a_clear_message():
    tiny = [np.full((8, 8, 3), 100, np.uint8)] * 3
    with pytest.raises(InputError, match="at least 16x16.*classic"):
        list(iter_dfi(tiny, tiny, MOTION))


def test_motion_mode_works_on_grey_frames():
    sources, _, generated = _pan_clip(frames=5)
    grey_src = [cv2.cvtColor(s, cv2.COLOR_BGR2GRAY) for s in sources]
    grey_gen = [cv2.cvtColor(g, cv2.COLOR_BGR2GRAY) for g in generated]
    out = list(iter_dfi(grey_src, grey_gen, MOTION))
    assert out[-1].shape == grey_gen[-1].shape
    assert not np.array_equal(out[-1], grey_gen[-1])


def _ramp_kept(outputs: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """Least-squares gain of the outputs' mean-brightness curve against the reference's (1 = the whole ramp)."""
    out = np.array([o.mean() for o in outputs])
    ref = np.array([r.mean() for r in reference])
    ref_c = ref - ref.mean()
    return float(np.dot(out - out.mean(), ref_c) / np.dot(ref_c, ref_c))


def test_motion_mode_follows_a_light_ramp_under_a_pan_when_the_picture_follows_its_source():
    """A pan while the light dims to 60 % and comes back; the picture is a plain tone map of the source.

    Where the generated picture follows the source's light as its tone map
    says (picture = 0.8 x source + 30), the light slope read off each frame is
    the true response, and the held picture must keep the whole ramp. (A style
    whose spatial slope differs from its response over time, as the quality
    benchmark's does by 5-10 %, keeps less or more; see README, Quality.)
    """
    frames = 24
    sources, _, _ = _pan_clip(frames=frames, h=128, w=160, seed=3)
    gains = [1.0 - 0.4 * np.sin(np.pi * t / (frames - 1)) for t in range(frames)]
    lit = [np.clip(s * np.float32(g) + 0.5, 0, 255).astype(np.uint8) for s, g in zip(sources, gains, strict=True)]
    clean = [np.clip(s.astype(np.float32) * 0.8 + 30.5, 0, 255).astype(np.uint8) for s in lit]
    rng = np.random.default_rng(8)
    generated = [add_ai_flicker(c, rng, amount=0.5) for c in clean]
    out = list(iter_dfi(lit, generated, MOTION))
    kept = _ramp_kept(out, clean)
    # Measured 1.00 (0.97-1.04 over six noise seeds); freezing the light (follow_light off) keeps about 0.56.
    assert 0.95 <= kept <= 1.05, kept
    frozen = _ramp_kept(list(iter_dfi(lit, generated, DFIParams(mode="motion", follow_light=False))), clean)
    assert frozen < 0.85, frozen


def _learn_response(true_response: float, seed: int = 4, frames: int = 40, depth: float = 50.0) -> tuple:
    """Feed a LightResponse a light ramp that the generated frames follow at ``true_response``, with flicker.

    Its two readings come from a picture drawn as 0.8 x source + 30 from a
    source of mean ~100: followed spatially 0.8, as a whole ~1.1.
    """
    rng = np.random.default_rng(seed)
    source = np.clip(rng.normal(100, 30, (32, 32)), 0, 255).astype(np.uint8)
    picture = cv2.convertScaleAbs(source, alpha=0.8, beta=30)
    response = LightResponse(1)
    level = generated = 0.0
    for t in range(frames):
        change = -depth * np.cos(np.pi * t / (frames - 1)) * np.pi / (frames - 1)  # down and back up
        level += change
        step_generated = true_response * level + rng.normal(0, 6.0) - generated  # 6 grey levels of flicker
        generated += step_generated
        response.observe(source, picture)
        learnt, owed = response.step(np.array([change]), np.array([step_generated]))
    return learnt[0], owed[0], response


def test_light_response_picks_the_reading_the_frames_follow():
    spatial, _, response = _learn_response(0.8)
    assert abs(response.spatially[0] - 0.8) < 0.02 and response.as_a_whole[0] > 1.05
    assert abs(spatial - 0.8) < 0.05, spatial
    whole, _, _ = _learn_response(float(response.as_a_whole[0]))
    assert abs(whole - response.as_a_whole[0]) < 0.05, whole


def test_light_response_is_measured_when_neither_reading_holds():
    learnt, _, _ = _learn_response(0.5, depth=80.0)
    assert abs(learnt - 0.5) < 0.1, learnt


def test_light_response_leans_on_its_readings_while_the_light_is_steady():
    learnt, owed, response = _learn_response(0.8, depth=0.0)
    assert response.spatially[0] - 0.01 <= learnt <= response.as_a_whole[0] + 0.01, learnt
    assert owed == 0.0


def _lamp_clip(frames: int = 24, h: int = 96, w: int = 128):
    """A still shot where a lamp on the left brightens the picture by up to 45 % and fades (each step small)."""
    sources, _, _ = _pan_clip(frames=1, h=h, w=w, seed=5)
    xs = np.arange(w, dtype=np.float32)
    spot = np.exp(-((xs - 0.2 * w) ** 2) / (2 * (0.2 * w) ** 2))[None, :, None]
    picture = stylise(sources[0]).astype(np.float32)
    lit, clean = [], []
    for t in range(frames):
        gain = 1.0 + 0.45 * np.sin(np.pi * t / (frames - 1)) * spot
        lit.append(np.clip(sources[0] * gain + 0.5, 0, 255).astype(np.uint8))
        clean.append(np.clip(picture * gain + 0.5, 0, 255).astype(np.uint8))
    return lit, clean, spot[0, :, 0] > 0.5


def test_motion_mode_follows_a_local_light_that_classic_freezes():
    lit, clean, lamp = _lamp_clip()

    def kept(outputs: list[np.ndarray]) -> float:
        return _ramp_kept([o[:, lamp] for o in outputs], [c[:, lamp] for c in clean])

    motion, classic = [], []
    # The response to light is learnt from the generated frames, so one draw of their flicker moves the
    # result as it moves theirs (0.92-1.09 over six seeds): the mean over four seeds is the setting's.
    for seed in range(9, 13):
        rng = np.random.default_rng(seed)
        generated = [add_ai_flicker(c, rng, amount=0.5) for c in clean]
        motion.append(kept(list(iter_dfi(lit, generated, MOTION))))
        classic.append(kept(list(iter_dfi(lit, generated, DFIParams()))))
    # Measured: motion 1.02, classic 0.45 (one light gain for the whole frame kept a quarter of a lamp on the
    # quality benchmark).
    assert 0.9 <= np.mean(motion) <= 1.1, motion
    assert np.mean(classic) < 0.7, classic


def test_motion_measured_ahead_on_a_worker_gives_the_same_frames_and_stops_with_the_run():
    sources, generated = _spliced_clip()
    pairs = list(zip(sources, generated, strict=True))
    serial = list(run_pass(pairs, MOTION, measure_ahead=False))
    ahead = list(run_pass(pairs, MOTION))
    assert [s.motion is not None and s.motion.cut for s in ahead] == [
        s.motion is not None and s.motion.cut for s in serial
    ]
    assert all(np.array_equal(a.output, b.output) for a, b in zip(ahead, serial, strict=True))
    # A run stopped early (a cancel, an error downstream) leaves no worker behind.
    stream = run_pass(pairs, MOTION)
    next(stream)
    stream.close()
    assert not any(t.name.startswith("abysz-flow") for t in threading.enumerate())
