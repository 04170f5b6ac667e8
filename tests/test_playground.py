"""Deflicker playground: presets on synthetic clips, both engines, previews, apply, custom presets, CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from abysz_lab import playground as pg
from abysz_lab.cli import main
from abysz_lab.errors import Cancelled, InputError, MissingDependencyError
from abysz_lab.jobs import CancelToken
from abysz_lab.playground import PlaygroundParams, Step

# --- synthetic clips ---------------------------------------------------------------------


def scene(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A textured, coloured still frame with values well inside 0..255."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (7, 7), 0)
    return cv2.normalize(base, None, 50, 170, cv2.NORM_MINMAX)


def flicker_clip(frames: int = 12, seed: int = 3) -> list[np.ndarray]:
    """A still scene with brightness, colour and noise flicker: what img2img does to a still shot."""
    rng = np.random.default_rng(seed)
    base = scene().astype(np.float32)
    out = []
    for _ in range(frames):
        gain = rng.uniform(0.85, 1.15)
        tint = rng.uniform(-8, 8, 3)
        noise = rng.normal(0, 6, base.shape)
        out.append(np.clip(base * gain + tint + noise, 0, 255).astype(np.uint8))
    return out


def write_clip(folder: Path, frames: list[np.ndarray]) -> list[Path]:
    """Write frames as PNG files named f0.png, f1.png, ... (natural order matters: f10 after f9)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        path = folder / f"f{i}.png"
        ok, buf = cv2.imencode(".png", frame)
        assert ok
        path.write_bytes(buf.tobytes())
        paths.append(path)
    return paths


def read_back(path: Path) -> np.ndarray:
    return cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def luma_means(frames: list[np.ndarray]) -> np.ndarray:
    return np.array([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float64).mean() for f in frames])


def run(preset: str, frames: list[np.ndarray], engine: str, **overrides) -> list[np.ndarray]:
    return pg.process_frames(frames, pg.params_for_preset(preset, **overrides), engine=engine)


ENGINES = ["numpy", "wand"]
BUILTIN_NAMES = [p.name for p in pg.BUILTIN_PRESETS]


# --- presets prove themselves ----------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_brightness_lock_removes_pumping_and_keeps_a_slow_ramp(engine):
    rng = np.random.default_rng(7)
    frames_n = 48
    ramp = np.linspace(0.8, 1.2, frames_n)  # a real, slow fade-up over the clip
    pump = 1 + rng.uniform(-0.2, 0.2, frames_n)  # ±20 % brightness pumping, frame to frame
    base = scene().astype(np.float32) * 0.8
    true_frames = [np.clip(base * r, 0, 255).astype(np.uint8) for r in ramp]
    pumped = [np.clip(base * r * p, 0, 255).astype(np.uint8) for r, p in zip(ramp, pump, strict=True)]

    out = run("brightness-lock", pumped, engine)

    true_luma, in_luma, out_luma = luma_means(true_frames), luma_means(pumped), luma_means(out)
    variation_in = np.std(np.diff(in_luma - true_luma))
    variation_out = np.std(np.diff(out_luma - true_luma))
    assert variation_out < 0.2 * variation_in
    assert np.corrcoef(out_luma, true_luma)[0, 1] > 0.95


@pytest.mark.parametrize("engine", ENGINES)
def test_temporal_median_removes_a_one_frame_pop_in(engine):
    still = scene()
    frames = [still.copy() for _ in range(7)]
    frames[3] = still.copy()
    cv2.rectangle(frames[3], (20, 15), (35, 30), (255, 255, 255), -1)  # a detail that exists for one frame

    out = run("temporal-median", frames, engine, window=3)

    region = (slice(15, 31), slice(20, 36))
    assert np.abs(out[3][region].astype(int) - still[region]).max() <= 1
    assert np.abs(frames[3][region].astype(int) - still[region]).max() > 50  # the pop was really there


@pytest.mark.parametrize("engine", ENGINES)
def test_blend_matches_its_formula(engine):
    frames = flicker_clip(4)
    s = 0.3
    out = run("blend", frames, engine, strength=s)
    expected = [frames[0]] + [s * frames[t].astype(float) + (1 - s) * frames[t - 1] for t in range(1, 4)]
    for got, want in zip(out, expected, strict=True):
        assert np.abs(got - np.asarray(want)).max() <= 1.0


def overlay_formula(base: np.ndarray, top: np.ndarray) -> np.ndarray:
    b, t = base / 255.0, top / 255.0
    return np.where(b < 0.5, 2 * b * t, 1 - 2 * (1 - b) * (1 - t)) * 255


@pytest.mark.parametrize("engine", ENGINES)
def test_overlay_matches_its_formula_without_the_originals_extras(engine):
    frames = flicker_clip(4)
    s = 0.6  # >= 0.4: the original added +10 brightness here; we do not
    out = run("overlay", frames, engine, strength=s)
    assert np.array_equal(out[0], frames[0])  # the first frame is left alone
    for t in range(1, 4):
        cur = frames[t].astype(float)
        want = s * overlay_formula(frames[t - 1].astype(float), cur) + (1 - s) * cur
        assert np.abs(out[t] - want).max() <= 1.5


@pytest.mark.parametrize("engine", ENGINES)
def test_normalize_matches_its_formula(engine):
    frames = flicker_clip(4)
    out = run("normalize", frames, engine)
    lumas = [(f.astype(float) @ [0.114, 0.587, 0.299]).mean() for f in frames]
    assert np.array_equal(out[0], frames[0])
    for t in range(1, 4):
        w = lumas[t - 1] / (lumas[t - 1] + lumas[t])
        want = w * frames[t - 1].astype(float) + (1 - w) * frames[t]
        assert np.abs(out[t] - want).max() <= 1.0


def test_colour_lock_steadies_channel_means():
    rng = np.random.default_rng(11)
    base = scene().astype(np.float32)
    frames = [np.clip(base + rng.uniform(-15, 15, 3), 0, 255).astype(np.uint8) for _ in range(24)]
    out = run("colour-lock", frames, "numpy")
    channel_jitter = lambda clip: np.std(np.diff([f.reshape(-1, 3).mean(axis=0) for f in clip], axis=0))  # noqa: E731
    assert channel_jitter(out) < 0.35 * channel_jitter(frames)


@pytest.mark.parametrize("preset", BUILTIN_NAMES)
def test_both_engines_agree_on_every_preset(preset):
    frames = flicker_clip(10)
    numpy_out = run(preset, frames, "numpy")
    wand_out = run(preset, frames, "wand")
    diff = np.mean([np.abs(a.astype(float) - b).mean() for a, b in zip(numpy_out, wand_out, strict=True)])
    assert diff < 1.5
    assert any(not np.array_equal(a, b) for a, b in zip(numpy_out, frames, strict=True))  # it did something


def test_strength_zero_leaves_locks_untouched():
    frames = flicker_clip(6)
    out = run("brightness-lock", frames, "numpy", strength=0.0)
    assert all(np.array_equal(a, b) for a, b in zip(out, frames, strict=True))


def test_chain_output_depends_only_on_its_window():
    """Running a chain on a slice (with its lookback/lookahead) gives the same frames as on the whole clip."""
    frames = flicker_clip(16)
    params = pg.params_for_preset("brightness-lock-median-3", window=5)
    chain = pg.resolve_chain(params)
    whole = pg.process_frames(frames, params, engine="numpy")
    t0, t1 = 6, 9
    first, last = t0 - chain.lookback, t1 + chain.lookahead
    part = dict(pg.run_chain(chain, pg.NumpyEngine(), ((i, frames[i]) for i in range(first, last))))
    for t in range(t0, t1):
        assert np.array_equal(part[t], whole[t])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("preset", ["colour-lock", "brightness-lock-median-3", "original-chain"])
def test_chain_limited_to_a_range_computes_just_those_frames_unchanged(preset, engine):
    """``only=`` (what previews use) yields exactly the asked frames, equal to a whole run's."""
    frames = flicker_clip(16)
    params = pg.params_for_preset(preset, window=5)
    chain = pg.resolve_chain(params)
    whole = pg.process_frames(frames, params, engine=engine)
    t0, t1 = 6, 9
    first, last = max(0, t0 - chain.lookback), t1 + chain.lookahead
    chosen = pg.choose_engine(engine).engine
    part = list(pg.run_chain(chain, chosen, ((i, frames[i]) for i in range(first, last)), only=range(t0, t1)))
    assert [i for i, _ in part] == [6, 7, 8]
    for t, out in part:
        assert np.array_equal(out, whole[t])


def test_windowed_chain_reads_only_the_window_ahead():
    """Memory stays bounded: output t is produced before input t + lookahead + 1 is pulled."""
    frames = flicker_clip(20)
    chain = pg.resolve_chain(pg.params_for_preset("brightness-lock-median-3", window=7))
    pulled = []

    def source():
        for i, frame in enumerate(frames):
            pulled.append(i)
            yield i, frame

    for index, _ in pg.run_chain(chain, pg.NumpyEngine(), source()):
        assert pulled[-1] <= index + chain.lookahead
    assert chain.lookahead == 3 + 1


# --- engines -------------------------------------------------------------------------------


def test_missing_magickwand_falls_back_to_numpy_with_a_hint(no_magickwand):
    choice = pg.choose_engine("auto")
    assert choice.engine.name == "numpy"
    assert "ImageMagick could not be loaded" in choice.message
    assert "numpy" in choice.message


def test_missing_magickwand_status_says_what_to_install(no_magickwand):
    status = pg.engine_status()
    assert not status.wand_available
    assert "MagickWand" in status.message or "ImageMagick" in status.message


def test_missing_magickwand_still_applies_with_a_warning(no_magickwand, tmp_path):
    write_clip(tmp_path / "in", flicker_clip(5))
    summary = pg.apply_preset(tmp_path / "in", tmp_path / "out", pg.params_for_preset("temporal-median"))
    assert summary.written == 5
    assert any("ImageMagick could not be loaded" in w for w in summary.warnings)


def test_missing_magickwand_with_wand_engine_raises_the_hint(no_magickwand):
    with pytest.raises(MissingDependencyError, match="ImageMagick"):
        pg.choose_engine("wand")


@pytest.mark.parametrize(
    ("platform", "hint"),
    [("win32", "MAGICK_HOME"), ("linux", "libmagickwand-6.q16-6"), ("darwin", "brew install imagemagick")],
)
def test_missing_wand_message_names_the_platforms_fix(platform, hint):
    message = pg.missing_wand_message(platform)
    assert hint in message
    assert message.count(". ") == 0  # one sentence


def test_engine_status_reports_imagemagick_here():
    status = pg.engine_status()
    assert status.wand_available
    assert "ImageMagick" in status.message


# --- parameters ----------------------------------------------------------------------------


def test_params_for_preset_uses_the_presets_recommendations():
    params = pg.params_for_preset("temporal-median")
    assert (params.preset, params.window, params.strength) == ("temporal-median", 3, 1.0)
    assert pg.params_for_preset("Blend (original)").strength == 0.5


def test_params_reject_an_even_window():
    with pytest.raises(InputError, match="odd"):
        PlaygroundParams(window=4)


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(InputError, match="brightness-lock"):
        pg.resolve_chain(PlaygroundParams(preset="nope"))


# --- preview -------------------------------------------------------------------------------


def test_preview_returns_before_and_after_equal_to_apply(tmp_path):
    frames = flicker_clip(14)
    write_clip(tmp_path / "in", frames)
    params = pg.params_for_preset("brightness-lock-median-3", window=5, engine="numpy")
    result = pg.preview(tmp_path / "in", params, start=4, count=3)
    pg.apply_preset(tmp_path / "in", tmp_path / "out", params)
    assert [f.index for f in result.frames] == [4, 5, 6]
    assert [f.name for f in result.frames] == ["f4.png", "f5.png", "f6.png"]
    for item in result.frames:
        assert np.array_equal(item.before, frames[item.index])
        assert np.array_equal(item.after, read_back(tmp_path / "out" / item.name))


def test_preview_start_out_of_range_is_refused(tmp_path):
    write_clip(tmp_path / "in", flicker_clip(4))
    with pytest.raises(InputError, match="out of range"):
        pg.preview(tmp_path / "in", start=4)


def test_preview_frames_are_numbered_from_1_like_the_files(tmp_path):
    """Frame N is the N-th file: index 4 is frame 5, and the refusal counts from 1 too."""
    write_clip(tmp_path / "in", flicker_clip(6))
    result = pg.preview(tmp_path / "in", pg.params_for_preset("blend"), start=4, count=2)
    assert [(f.number, f.name) for f in result.frames] == [(5, "f4.png"), (6, "f5.png")]
    with pytest.raises(InputError, match=r"start frame 7 is out of range: the folder has frames 1 to 6\."):
        pg.preview(tmp_path / "in", start=6)


def test_preview_animation_is_a_gif_of_before_and_after(tmp_path):
    write_clip(tmp_path / "in", flicker_clip(6))
    result = pg.preview(tmp_path / "in", pg.params_for_preset("blend"), count=4)
    path = pg.write_preview_animation(result, tmp_path / "preview.gif")
    from wand.image import Image

    with Image(filename=str(path)) as gif:
        assert len(gif.sequence) == 4
        assert gif.width == 64 * 2 + 4


# --- apply ---------------------------------------------------------------------------------


def test_apply_writes_same_names_and_leaves_inputs_untouched(tmp_path):
    frames = flicker_clip(11)
    write_clip(tmp_path / "in", frames)
    before = digest(tmp_path / "in")
    params = pg.params_for_preset("temporal-median")
    summary = pg.apply_preset(tmp_path / "in", tmp_path / "out", params)
    assert digest(tmp_path / "in") == before
    assert summary.written == summary.total == 11
    names = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert names == sorted(f"f{i}.png" for i in range(11))
    expected = pg.process_frames(frames, params)
    assert np.array_equal(read_back(tmp_path / "out" / "f10.png"), expected[10])  # natural order


def test_apply_refuses_output_inside_input(tmp_path):
    write_clip(tmp_path / "in", flicker_clip(3))
    with pytest.raises(InputError, match="inside"):
        pg.apply_preset(tmp_path / "in", tmp_path / "in" / "out")


def test_apply_refuses_frames_of_different_sizes(tmp_path):
    frames = flicker_clip(3)
    frames.append(cv2.resize(frames[0], (32, 24)))
    write_clip(tmp_path / "in", frames)
    with pytest.raises(InputError, match="same size"):
        pg.apply_preset(tmp_path / "in", tmp_path / "out", pg.params_for_preset("blend"))


def test_cancelled_apply_then_resume_equals_an_uninterrupted_run(tmp_path):
    frames = flicker_clip(14)
    write_clip(tmp_path / "in", frames)
    params = pg.params_for_preset("brightness-lock-median-3", window=5, engine="numpy")
    token = CancelToken()

    def cancel_at_six(p):
        if p.done >= 6:
            token.cancel()

    with pytest.raises(Cancelled):
        pg.apply_preset(tmp_path / "in", tmp_path / "out", params, progress=cancel_at_six, cancel=token, workers=1)
    partial = len(list((tmp_path / "out").glob("*.png")))
    assert 6 <= partial < 14
    summary = pg.apply_preset(tmp_path / "in", tmp_path / "out", params)
    assert summary.resumed_from >= 6
    pg.apply_preset(tmp_path / "in", tmp_path / "whole", params)
    for i in range(14):
        assert np.array_equal(read_back(tmp_path / "out" / f"f{i}.png"), read_back(tmp_path / "whole" / f"f{i}.png"))


def test_changed_preset_starts_over_instead_of_resuming(tmp_path):
    write_clip(tmp_path / "in", flicker_clip(5))
    pg.apply_preset(tmp_path / "in", tmp_path / "out", pg.params_for_preset("blend"))
    summary = pg.apply_preset(tmp_path / "in", tmp_path / "out", pg.params_for_preset("normalize"))
    assert summary.resumed_from == 0
    assert any("starting over" in w for w in summary.warnings)


def test_apply_does_not_overwrite_foreign_files(tmp_path):
    write_clip(tmp_path / "in", flicker_clip(3))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "f1.png").write_bytes(b"mine")
    with pytest.raises(InputError, match="not written by Abysz LAB"):
        pg.apply_preset(tmp_path / "in", tmp_path / "out")
    assert (tmp_path / "out" / "f1.png").read_bytes() == b"mine"


# --- custom presets ------------------------------------------------------------------------


def test_custom_preset_save_load_and_delete(tmp_path):
    preset = pg.make_preset(
        "My Soft Lock",
        [Step("brightness_lock", "strength", "window"), Step("temporal_mean", 0.5, 3)],
        description="Lock, then a light mean.",
        default_window=7,
    )
    path = pg.save_preset(preset, tmp_path)
    assert path.name == "my-soft-lock.json"
    loaded = pg.find_preset("my soft lock", tmp_path)
    assert loaded.steps == preset.steps
    assert pg.params_for_preset("my-soft-lock", folder=tmp_path).window == 7
    assert "my-soft-lock" in [info.name for info in pg.list_presets(tmp_path)]
    pg.delete_preset("My Soft Lock", tmp_path)
    assert not path.exists()
    with pytest.raises(InputError, match="No preset"):
        pg.find_preset("my-soft-lock", tmp_path)


def test_custom_preset_runs_through_apply(tmp_path):
    pg.save_preset(pg.make_preset("Mean five", [Step("temporal_mean", 1.0, 5)]), tmp_path / "presets")
    frames = flicker_clip(8)
    write_clip(tmp_path / "in", frames)
    params = pg.params_for_preset("mean-five", folder=tmp_path / "presets", engine="numpy")
    pg.apply_preset(tmp_path / "in", tmp_path / "out", params, folder=tmp_path / "presets")
    expected = np.mean(np.stack(frames[1:6]).astype(float), axis=0)
    assert np.abs(read_back(tmp_path / "out" / "f3.png") - expected).max() <= 0.5


def test_custom_preset_cannot_take_a_builtin_name(tmp_path):
    with pytest.raises(InputError, match="built-in"):
        pg.save_preset(pg.make_preset("Temporal median", [Step("temporal_median")]), tmp_path)


def test_custom_preset_cannot_live_in_the_package_folder():
    with pytest.raises(InputError, match="code folder"):
        pg.save_preset(pg.make_preset("x", [Step("blend")]), Path(pg.__file__).parent / "presets")


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "abysz-lab-preset", "version": 1, "name": "a", "steps": []}', "list of 1 to"),
        ('{"format": "abysz-lab-preset", "version": 1, "name": "a", "steps": [{"kind": "sharpen"}]}', "kind"),
        (
            '{"format": "abysz-lab-preset", "version": 1, "name": "a", "steps": [{"kind": "blend", "amount": 2}]}',
            "from 0 to 1",
        ),
        (
            '{"format": "abysz-lab-preset", "version": 1, "name": "a", '
            '"steps": [{"kind": "temporal_median", "window": 4}]}',
            "odd",
        ),
        ('{"format": "abysz-lab-preset", "version": 1, "name": "a", "steps": [{"kind": "blend"}], "x": 1}', "unknown"),
    ],
)
def test_invalid_preset_files_get_clear_errors(tmp_path, document, complaint):
    path = tmp_path / "bad.json"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(InputError, match=complaint) as info:
        pg.load_preset_file(path)
    assert "bad.json" in str(info.value)


def test_one_bad_preset_file_does_not_hide_the_others(tmp_path):
    pg.save_preset(pg.make_preset("Good", [Step("blend")]), tmp_path)
    (tmp_path / "broken.json").write_text("[]", encoding="utf-8")
    custom = pg.load_custom_presets(tmp_path)
    assert [p.name for p in custom.presets] == ["good"]
    assert len(custom.problems) == 1
    assert "broken.json" in custom.problems[0]


def test_before_after_puts_the_frames_left_and_right_of_a_gap():
    before, after = np.zeros((6, 5, 3), np.uint8), np.full((6, 5, 3), 255, np.uint8)
    pair = pg.before_after(before, after, gap=2)
    assert pair.shape == (6, 12, 3)
    assert (pair[:, :5] == 0).all()
    assert (pair[:, 7:] == 255).all()


def test_preset_list_describes_every_builtin():
    infos = {info.name: info for info in pg.list_presets(Path("/nonexistent-abysz-presets"))}
    assert set(BUILTIN_NAMES) <= set(infos)
    assert "+10" in infos["overlay"].description  # the guide says what we dropped
    assert infos["temporal-median"].uses_window
    assert not infos["blend"].uses_window
    assert all(info.description and info.strength_help for info in infos.values())


# --- CLI -----------------------------------------------------------------------------------


def test_cli_list_presets(capsys):
    assert main(["deflicker", "--list-presets", "--presets-dir", "/nonexistent-abysz-presets"]) == 0
    out = capsys.readouterr().out
    assert "brightness-lock" in out
    assert "original-chain" in out


def test_cli_applies_a_preset(tmp_path, capsys):
    frames = flicker_clip(6)
    write_clip(tmp_path / "in", frames)
    code = main(
        [
            "deflicker",
            "--preset",
            "blend",
            "--strength",
            "0.25",
            "--in",
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    assert "wrote 6 of 6" in capsys.readouterr().out
    want = 0.25 * frames[2].astype(float) + 0.75 * frames[1]
    assert np.abs(read_back(tmp_path / "o" / "f2.png") - want).max() <= 1.0


def test_cli_bad_strength_exits_2(tmp_path, capsys):
    write_clip(tmp_path / "in", flicker_clip(2))
    code = main(["deflicker", "--preset", "blend", "--strength", "3", "--in", str(tmp_path / "in"), "--out", "o"])
    assert code == 2
    assert "between 0 and 1" in capsys.readouterr().err


def test_cli_unknown_preset_exits_2(tmp_path, capsys):
    write_clip(tmp_path / "in", flicker_clip(2))
    code = main(["deflicker", "--preset", "nope", "--in", str(tmp_path / "in"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "No preset called 'nope'" in capsys.readouterr().err


def test_cli_names_what_is_wrong_with_an_invalid_preset_file(tmp_path, capsys):
    write_clip(tmp_path / "in", flicker_clip(2))
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "mine.json").write_text("{not json", encoding="utf-8")
    args = ["deflicker", "--preset", "mine", "--presets-dir", str(tmp_path / "presets")]
    code = main([*args, "--in", str(tmp_path / "in"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "mine.json" in err
    assert "not valid JSON" in err


def test_cli_refuses_a_presets_dir_that_is_a_file(tmp_path, capsys):
    write_clip(tmp_path / "in", flicker_clip(2))
    (tmp_path / "presets.json").write_text("{}", encoding="utf-8")
    args = ["deflicker", "--preset", "blend", "--presets-dir", str(tmp_path / "presets.json")]
    code = main([*args, "--in", str(tmp_path / "in"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_without_folders_exits_2(capsys):
    assert main(["deflicker", "--preset", "blend"]) == 2
    assert "--in" in capsys.readouterr().err


def test_cli_wand_engine_without_magickwand_exits_3(no_magickwand, tmp_path, capsys):
    write_clip(tmp_path / "in", flicker_clip(2))
    args = ["deflicker", "--preset", "brightness-lock", "--engine", "wand"]
    code = main([*args, "--in", str(tmp_path / "in"), "--out", str(tmp_path / "o")])
    assert code == 3
    assert "ImageMagick" in capsys.readouterr().err


def test_saved_preset_is_plain_editable_json(tmp_path):
    """A preset saved by the library is plain JSON a user can read and edit."""
    path = pg.save_preset(pg.make_preset("Readable", [Step("normalize", 1.0)]), tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["steps"] == [{"kind": "normalize", "amount": 1.0}]


def test_a_wand_too_old_for_temporal_presets_falls_back_to_numpy(monkeypatch):
    pytest.importorskip("wand.image", reason="needs ImageMagick")
    import wand.image

    monkeypatch.delattr(wand.image.BaseImage, "evaluate_images")  # as in Wand 0.6
    status = pg.engine_status()
    assert not status.wand_available
    assert "too old" in status.message
    assert "pip install -U Wand" in status.message
    assert pg.choose_engine("auto").engine.name == "numpy"
