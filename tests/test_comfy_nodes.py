"""The ComfyUI nodes, loaded the way ComfyUI loads a pack, run on real torch tensors.

ComfyUI itself is not installed in CI: ``tests/comfy_standin`` follows the
parts the nodes touch (ProgressBar, the interrupt flag, the output folder, and
loading ``__init__.py`` by file path with the folder off ``sys.path``). torch is
real (the CPU wheel of the ``comfy`` test environment); elsewhere these skip.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import read_back, static_scene, write_frames

torch = pytest.importorskip("torch")

from abysz_lab import params as prm  # noqa: E402
from abysz_lab.analysis import AnalysisParams  # noqa: E402
from abysz_lab.dfi import DFIParams, preview_masks, run_dfi  # noqa: E402
from abysz_lab.playground import PlaygroundParams, params_for_preset, process_frames  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STANDIN = Path(__file__).resolve().parent / "comfy_standin"
NODE_NAMES = {
    "AbyszDFI": "Abysz DFI",
    "AbyszDFIMaskPreview": "Abysz DFI mask preview",
    "AbyszDeflickerPreset": "Abysz deflicker preset",
    "AbyszFlickerAnalysis": "Abysz flicker analysis",
    "AbyszLoadFrames": "Abysz load frames",
    "AbyszSaveFrames": "Abysz save frames",
}


# --- the stand-in host ------------------------------------------------------------------


@pytest.fixture
def pack(monkeypatch, tmp_path):
    """ComfyUI's modules (stand-in) importable, the pack loaded by file path; yields the pack module."""
    monkeypatch.syspath_prepend(str(STANDIN))
    for name in [m for m in sys.modules if m in ("comfy", "folder_paths", "loader") or m.startswith("comfy.")]:
        monkeypatch.delitem(sys.modules, name)
    import folder_paths
    from loader import load_custom_node

    monkeypatch.setattr(folder_paths, "output_directory", str(tmp_path / "comfy_output"))
    monkeypatch.setattr(folder_paths, "input_directory", str(tmp_path / "comfy_input"))
    module = load_custom_node(str(REPO))
    yield module
    sys.modules.pop(str(REPO).replace(".", "_x_"), None)


@pytest.fixture
def progress_log(pack):
    """Every ProgressBar update as (current, total), through ComfyUI's global hook."""
    import comfy.utils

    updates: list[tuple[int, int]] = []
    comfy.utils.PROGRESS_BAR_HOOK = lambda value, total, preview, node_id=None: updates.append((value, total))
    yield updates
    comfy.utils.PROGRESS_BAR_HOOK = None


def as_image_batch(frames: list[np.ndarray]) -> torch.Tensor:
    """8-bit BGR frames as a ComfyUI IMAGE batch, exactly as LoadImage makes it (float32 RGB, x / 255)."""
    rgb = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]).astype(np.float32) / 255.0
    return torch.from_numpy(rgb)


def as_bgr8(batch: torch.Tensor) -> list[np.ndarray]:
    """An IMAGE batch back to 8-bit BGR frames (round to nearest)."""
    u8 = (batch.numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
    return [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in u8]


def moving_clip(count: int = 8, h: int = 48, w: int = 64) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A textured still background with a bright square moving right, and noisy 'generated' copies."""
    rng = np.random.default_rng(7)
    scene = static_scene(h, w)
    sources, generated = [], []
    for t in range(count):
        frame = scene.copy()
        frame[10:26, 4 + 4 * t : 20 + 4 * t] = (40, 200, 240)
        sources.append(frame)
        generated.append(np.clip(frame + rng.normal(0, 10, frame.shape), 0, 255).astype(np.uint8))
    return sources, generated


def dfi_values(**changes) -> dict:
    """Widget values of the DFI node: the dataclass defaults with ``changes``."""
    return prm.as_dict(DFIParams()) | changes


# --- loading: file path, no sys.path, harmless elsewhere, second copies -------------------------------


def _run_python(code: str, *, pythonpath: list[Path], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_loaded_by_file_path_the_pack_registers_its_six_nodes_without_touching_sys_path(tmp_path):
    code = f"""
        import json, logging, sys
        logging.basicConfig(level=logging.INFO)
        from loader import load_custom_node
        before = list(sys.path)
        pack = load_custom_node({str(REPO)!r})
        import abysz_lab
        print(json.dumps({{
            "nodes": pack.NODE_CLASS_MAPPINGS and {{k: v.__name__ for k, v in pack.NODE_CLASS_MAPPINGS.items()}},
            "names": pack.NODE_DISPLAY_NAME_MAPPINGS,
            "core": abysz_lab.__file__,
            "path_unchanged": sys.path == before,
            "torch_imported": "torch" in sys.modules,
        }}))
    """
    result = _run_python(code, pythonpath=[STANDIN], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["names"] == NODE_NAMES
    assert set(report["nodes"]) == set(NODE_NAMES)
    assert Path(report["core"]).resolve() == REPO / "abysz_lab" / "__init__.py"
    assert report["path_unchanged"]
    assert not report["torch_imported"], "registering the nodes must not import torch (it runs at ComfyUI start)"
    assert "another copy" not in result.stderr


def _copy_pack(folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copy2(REPO / "__init__.py", folder / "__init__.py")
    shutil.copytree(REPO / "abysz_lab", folder / "abysz_lab", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_a_second_copy_in_custom_nodes_is_named_in_the_log_and_registers_nothing(tmp_path):
    copy = _copy_pack(tmp_path / "custom_nodes" / "abysz-lab-copy")
    code = f"""
        import logging
        logging.basicConfig(level=logging.INFO)
        from loader import load_custom_node
        first = load_custom_node({str(REPO)!r})
        second = load_custom_node({str(copy)!r})
        print(len(first.NODE_CLASS_MAPPINGS), len(second.NODE_CLASS_MAPPINGS))
    """
    result = _run_python(code, pythonpath=[STANDIN], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["6", "0"]
    assert "another copy is already loaded from" in result.stderr
    assert str(REPO) in result.stderr
    assert str(copy) in result.stderr


def test_an_installed_abysz_lab_elsewhere_is_named_and_this_copy_is_used(tmp_path):
    copy = _copy_pack(tmp_path / "custom_nodes" / "abysz-lab")
    code = f"""
        import logging
        logging.basicConfig(level=logging.INFO)
        from loader import load_custom_node
        pack = load_custom_node({str(copy)!r})
        import abysz_lab
        print(len(pack.NODE_CLASS_MAPPINGS), abysz_lab.__file__)
    """
    # The repository on PYTHONPATH plays a pip-installed abysz_lab.
    result = _run_python(code, pythonpath=[STANDIN, REPO], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    count, core = result.stdout.split()
    assert count == "6"
    assert Path(core).resolve().parent == (copy / "abysz_lab").resolve()
    assert "another copy of abysz_lab is installed at" in result.stderr


def test_pytest_collection_never_imports_the_root_init(tmp_path):
    code = f"""
        import sys, pytest
        args = ["--collect-only", "-q", "-p", "no:cacheprovider", "tests/test_params.py", "tests/test_install.py"]
        rc = pytest.main(args)
        root_init = {str(REPO / "__init__.py")!r}
        imported = [name for name, m in list(sys.modules.items()) if getattr(m, "__file__", None) == root_init]
        print("RESULT", int(rc), imported)
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "RESULT 0 []" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]


# --- widgets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "cls"),
    [("AbyszDFI", DFIParams), ("AbyszDFIMaskPreview", DFIParams), ("AbyszFlickerAnalysis", AnalysisParams)],
)
def test_widgets_match_the_parameter_declarations(pack, node, cls):
    required = pack.NODE_CLASS_MAPPINGS[node].INPUT_TYPES()["required"]
    for spec in prm.specs(cls):
        kind, options = required[spec.name]
        assert options["default"] == spec.default
        assert options["tooltip"] == spec.help
        if spec.choices is not None:
            assert kind == list(spec.choices)
            continue
        assert kind == {int: "INT", float: "FLOAT", bool: "BOOLEAN", str: "STRING"}[spec.kind]
        if spec.minimum is not None:
            assert (options["min"], options["max"]) == (spec.minimum, spec.maximum)
            assert type(options["min"]) is spec.kind
        if spec.step is not None:
            assert options["step"] == spec.step
        if spec.odd:
            assert options["min"] % 2 == 1
            assert options["step"] == 2, "odd kernel sizes must step from one odd value to the next"


def test_the_dfi_node_has_a_widget_for_every_dfi_parameter_and_nothing_else(pack):
    required = pack.NODE_CLASS_MAPPINGS["AbyszDFI"].INPUT_TYPES()["required"]
    assert list(required) == ["original", "generated", *(s.name for s in prm.specs(DFIParams))]
    assert required["original"][0] == required["generated"][0] == "IMAGE"


def test_the_preset_node_offers_every_preset_including_saved_ones(pack, tmp_path, monkeypatch):
    from abysz_lab.playground import Step, make_preset, save_preset

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    save_preset(make_preset("My steady look", [Step("temporal_mean", 0.5, 3)]))
    required = pack.NODE_CLASS_MAPPINGS["AbyszDeflickerPreset"].INPUT_TYPES()["required"]
    names = required["preset"][0]
    assert names[0] == "brightness-lock"
    assert "temporal-median" in names
    assert "my-steady-look" in names
    assert required["engine"][0] == list(prm.specs(PlaygroundParams)[-1].choices)


# --- the DFI node -----------------------------------------------------------------------------


@pytest.mark.parametrize("source_size", [(64, 48), (96, 54)], ids=["same-size", "wider-original-is-fitted"])
def test_dfi_node_equals_run_dfi_on_the_same_frames_as_png(pack, tmp_path, source_size):
    sources, generated = moving_clip()
    sources = [cv2.resize(f, source_size, interpolation=cv2.INTER_AREA) for f in sources]
    write_frames(tmp_path / "src", sources)
    write_frames(tmp_path / "gen", generated)
    values = dfi_values(tolerance=6.0, expand=3, smooth=5, refresh_every=3, refresh_strength=20.0, map_denoise=5)
    run_dfi(tmp_path / "src", tmp_path / "gen", tmp_path / "out", DFIParams(**values))
    expected = [read_back(p) for p in sorted((tmp_path / "out").glob("*.png"))]

    node = pack.NODE_CLASS_MAPPINGS["AbyszDFI"]()
    stabilised, held = node.stabilise(as_image_batch(sources), as_image_batch(generated), **values)

    assert stabilised.dtype == held.dtype == torch.float32
    assert tuple(stabilised.shape) == (8, 48, 64, 3)
    assert tuple(held.shape) == (8, 48, 64)
    got = as_bgr8(stabilised)
    for index, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
        assert np.array_equal(mine, theirs), f"frame {index} differs from run_dfi"
    # Within IMAGE's 8-bit rounding of the files run_dfi wrote.
    reference = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in expected]).astype(np.float32) / 255.0
    assert float(np.abs(stabilised.numpy() - reference).max()) <= 0.5 / 255.0
    assert not np.array_equal(got[5], generated[5]), "DFI must have held something (else the test proves nothing)"


def test_dfi_node_held_mask_is_one_where_the_original_is_still_and_zero_on_the_first_frame(pack):
    sources, generated = moving_clip()
    node = pack.NODE_CLASS_MAPPINGS["AbyszDFI"]()
    _, held = node.stabilise(as_image_batch(sources), as_image_batch(generated), **dfi_values(inter_denoise=0))
    assert float(held[0].max()) == 0.0
    # Dynamic refresh: the still background carries the previous output at the still share (~90 %) of opacity.
    still = held[4, 40:, :]
    assert float(still.min()) > 0.8
    assert float(still.max() - still.min()) < 1e-6
    # The square (x 20..36 at t = 4, 16..32 before) changed the original at its two 4-pixel edges only.
    assert float(held[4, 11:25, 33:35].mean()) < 0.3, "the leading edge is refreshed, not held"
    assert float(held[4, 11:25, 17:19].mean()) < 0.3, "the trailing edge is refreshed, not held"
    assert float(held.min()) >= 0.0 and float(held.max()) <= 1.0


def test_dfi_node_runs_under_inference_mode_as_comfyui_executes_nodes(pack):
    sources, generated = moving_clip(4)
    node = pack.NODE_CLASS_MAPPINGS["AbyszDFI"]()
    expected, _ = node.stabilise(as_image_batch(sources), as_image_batch(generated), **dfi_values())
    with torch.inference_mode():  # ComfyUI's executor wraps every prompt in it
        original, gen = as_image_batch(sources).clone(), as_image_batch(generated).clone()
        got, _ = node.stabilise(original, gen, **dfi_values())
    assert got.is_inference()
    assert torch.equal(got, expected)


def test_dfi_node_uses_the_first_min_n_m_pairs_and_warns_in_the_log(pack, caplog):
    sources, generated = moving_clip()
    node = pack.NODE_CLASS_MAPPINGS["AbyszDFI"]()
    with caplog.at_level(logging.WARNING, logger="abysz_lab.comfy"):
        stabilised, held = node.stabilise(as_image_batch(sources), as_image_batch(generated[:5]), **dfi_values())
    assert stabilised.shape[0] == held.shape[0] == 5
    assert "original batch has 8 frames and the generated batch 5: using the first 5 pairs" in caplog.text


def test_dfi_node_reports_progress_per_frame(pack, progress_log):
    sources, generated = moving_clip(6)
    pack.NODE_CLASS_MAPPINGS["AbyszDFI"]().stabilise(as_image_batch(sources), as_image_batch(generated), **dfi_values())
    assert progress_log == [(i, 6) for i in range(1, 7)]


def test_interrupt_stops_the_dfi_node_between_frames(pack, progress_log):
    import comfy.model_management as mm
    import comfy.utils

    def interrupt_after_third(value, total, preview, node_id=None):
        progress_log.append((value, total))
        if value == 3:
            mm.interrupt_current_processing(True)  # the Cancel button, pressed while frame 3 is shown

    comfy.utils.PROGRESS_BAR_HOOK = interrupt_after_third
    sources, generated = moving_clip(8)
    with pytest.raises(mm.InterruptProcessingException):
        pack.NODE_CLASS_MAPPINGS["AbyszDFI"]().stabilise(
            as_image_batch(sources), as_image_batch(generated), **dfi_values()
        )
    assert progress_log == [(1, 8), (2, 8), (3, 8)], "the run must stop before a fourth frame"
    assert not mm.processing_interrupted(), "the flag is consumed, as ComfyUI does"


def test_interrupt_stops_the_two_pass_dfi_node_during_its_backward_pass(pack, progress_log):
    """Both passes run on frames spilled to disk: the bar counts both, and Cancel stops either."""
    import comfy.model_management as mm
    import comfy.utils

    def interrupt_at_third(value, total, preview, node_id=None):
        progress_log.append((value, total))
        if value == 3:
            mm.interrupt_current_processing(True)

    comfy.utils.PROGRESS_BAR_HOOK = interrupt_at_third
    sources, generated = moving_clip(8)
    values = dfi_values(mode="motion", passes="forward+backward")
    with pytest.raises(mm.InterruptProcessingException):
        pack.NODE_CLASS_MAPPINGS["AbyszDFI"]().stabilise(as_image_batch(sources), as_image_batch(generated), **values)
    assert progress_log == [(1, 16), (2, 16), (3, 16)], "stopped in the backward pass, before a fourth frame"


def test_the_two_pass_dfi_node_counts_both_passes(pack, progress_log):
    sources, generated = moving_clip(5)
    values = dfi_values(mode="motion", passes="forward+backward")
    pack.NODE_CLASS_MAPPINGS["AbyszDFI"]().stabilise(as_image_batch(sources), as_image_batch(generated), **values)
    assert progress_log == [(i, 10) for i in range(1, 11)]


def test_dfi_node_refuses_an_out_of_range_parameter_with_the_dataclass_message(pack):
    sources, generated = moving_clip(3)
    with pytest.raises(ValueError, match=r"Mask smooth \(smooth\) must be an odd number"):
        pack.NODE_CLASS_MAPPINGS["AbyszDFI"]().stabilise(
            as_image_batch(sources), as_image_batch(generated), **dfi_values(smooth=4)
        )


def test_dfi_node_refuses_a_mask_in_place_of_an_image(pack):
    sources, generated = moving_clip(3)
    with pytest.raises(ValueError, match="not an IMAGE batch"):
        pack.NODE_CLASS_MAPPINGS["AbyszDFI"]().stabilise(
            as_image_batch(sources)[..., 0], as_image_batch(generated), **dfi_values()
        )


# --- the other nodes ----------------------------------------------------------------------------


def test_mask_preview_node_equals_the_tabs_preview_on_the_same_frames(pack, tmp_path):
    sources, generated = moving_clip()
    write_frames(tmp_path / "src", sources)
    write_frames(tmp_path / "gen", generated)
    values = dfi_values(tolerance=4.0, smooth=3)
    expected = preview_masks(tmp_path / "src", tmp_path / "gen", DFIParams(**values), indices=[2, 5])
    node = pack.NODE_CLASS_MAPPINGS["AbyszDFIMaskPreview"]()
    overlay, mask, summary = node.preview(as_image_batch(sources), as_image_batch(generated), "2, 5", 4, **values)
    assert tuple(overlay.shape) == (2, 48, 64, 3)
    for slot, item in enumerate(expected):
        assert np.array_equal((mask[slot].numpy() * 255 + 0.5).astype(np.uint8), item.mask)
        assert np.array_equal(as_bgr8(overlay[slot : slot + 1])[0], item.overlay)
        # ComfyUI counts batch images from 0, so the node speaks of batch indices, not of frame numbers.
        assert f"batch index {item.index}: {item.held_pct:.1f} % held" in summary


def test_mask_preview_node_names_out_of_range_frames(pack):
    sources, generated = moving_clip(4)
    match = r"Preview batch index\(es\) \[0, 9\] out of range: choose between 1 and 3 \(batch indices count from 0"
    with pytest.raises(ValueError, match=match):
        pack.NODE_CLASS_MAPPINGS["AbyszDFIMaskPreview"]().preview(
            as_image_batch(sources), as_image_batch(generated), "0, 9", 4, **dfi_values()
        )


def test_mask_preview_node_says_its_frames_are_batch_indices_from_0(pack):
    node = pack.NODE_CLASS_MAPPINGS["AbyszDFIMaskPreview"]
    tip = node.INPUT_TYPES()["required"]["frames"][1]["tooltip"]
    assert "Batch indices" in tip
    assert "counted from 0" in tip
    assert "batch index" in node.OUTPUT_TOOLTIPS[2]


@pytest.mark.parametrize("preset", ["temporal-median", "brightness-lock"])
def test_deflicker_node_equals_process_frames_with_the_same_preset(pack, preset):
    _, generated = moving_clip(7)
    node = pack.NODE_CLASS_MAPPINGS["AbyszDeflickerPreset"]()
    (out,) = node.deflicker(as_image_batch(generated), preset, True, strength=1.0, window=15, engine="numpy")
    expected = process_frames(generated, params_for_preset(preset, engine="numpy"))
    for mine, theirs in zip(as_bgr8(out), expected, strict=True):
        assert np.array_equal(mine, theirs)


def test_deflicker_node_widgets_apply_when_preset_defaults_is_off(pack):
    _, generated = moving_clip(5)
    node = pack.NODE_CLASS_MAPPINGS["AbyszDeflickerPreset"]()
    (out,) = node.deflicker(as_image_batch(generated), "blend", False, strength=1.0, window=3, engine="numpy")
    # blend with strength 1 keeps each frame as it is; the preset's own 0.5 would not.
    assert all(np.array_equal(a, b) for a, b in zip(as_bgr8(out), generated, strict=True))


def test_flicker_analysis_node_returns_the_summary_and_a_plot(pack):
    sources, generated = moving_clip(8, 64, 64)
    stabilised, _ = pack.NODE_CLASS_MAPPINGS["AbyszDFI"]().stabilise(
        as_image_batch(sources), as_image_batch(generated), **dfi_values()
    )
    node = pack.NODE_CLASS_MAPPINGS["AbyszFlickerAnalysis"]()
    summary, plot = node.analyse(
        as_image_batch(sources), as_image_batch(generated), stabilised, **prm.as_dict(AnalysisParams())
    )
    assert summary.startswith("flicker -")  # DFI removed flicker: the change is negative
    assert "fidelity PSNR dB" in summary
    assert plot.dtype == torch.float32
    assert plot.shape[0] == 1 and plot.shape[3] == 3 and plot.shape[2] >= 1000


def test_load_frames_reads_a_folder_in_natural_order_with_start_and_limit(pack, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    values = {1: 10, 2: 20, 3: 30, 10: 100, 11: 110}
    for number, grey in values.items():
        write_frames(folder, [np.full((8, 12, 3), grey, np.uint8)], pattern=f"f{number}.png")
    (folder / "notes.txt").write_text("not a frame")
    node = pack.NODE_CLASS_MAPPINGS["AbyszLoadFrames"]()
    batch, count, names = node.load(str(folder), 0, 0)
    assert count == 5
    assert names.splitlines() == ["f1.png", "f2.png", "f3.png", "f10.png", "f11.png"]
    assert [round(float(f[0, 0, 0]) * 255) for f in batch] == [10, 20, 30, 100, 110]
    batch, count, names = node.load(str(folder), 2, 2)
    assert names.splitlines() == ["f3.png", "f10.png"]
    assert tuple(batch.shape) == (2, 8, 12, 3)


def test_load_frames_refuses_frames_of_another_size_naming_the_file(pack, tmp_path):
    write_frames(tmp_path / "f", [np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)])
    with pytest.raises(ValueError, match=r"Frame frame_001.png is 8x9 but the first one is 8x8"):
        pack.NODE_CLASS_MAPPINGS["AbyszLoadFrames"]().load(str(tmp_path / "f"), 0, 0)


def test_save_frames_round_trips_exactly_and_never_replaces_files_unasked(pack, tmp_path):
    sources, _ = moving_clip(3)
    node = pack.NODE_CLASS_MAPPINGS["AbyszSaveFrames"]()
    result = node.save(as_image_batch(sources), "clip", "f_", "png", False)
    folder = tmp_path / "comfy_output" / "clip"  # a relative folder lies in ComfyUI's output folder
    assert result["result"] == (str(folder),)
    saved = sorted(folder.iterdir())
    assert [p.name for p in saved] == ["f_00000.png", "f_00001.png", "f_00002.png"]
    assert all(np.array_equal(read_back(p), f) for p, f in zip(saved, sources, strict=True))
    before = saved[0].read_bytes()
    with pytest.raises(ValueError, match="already holds 3 file"):
        node.save(as_image_batch(sources[::-1]), "clip", "f_", "png", False)
    assert saved[0].read_bytes() == before
    node.save(as_image_batch(sources[::-1]), str(folder), "f_", "png", True)
    assert np.array_equal(read_back(saved[0]), sources[2])


def test_load_frames_finds_a_relative_folder_in_comfyuis_input_folder(pack, tmp_path):
    write_frames(tmp_path / "comfy_input" / "clip", [np.full((4, 4, 3), 7, np.uint8)] * 2)
    batch, count, _ = pack.NODE_CLASS_MAPPINGS["AbyszLoadFrames"]().load("clip", 0, 0)
    assert count == 2
    assert round(float(batch[1, 0, 0, 0]) * 255) == 7


@pytest.mark.parametrize("variant", ["float16", "rgba"])
def test_dfi_node_takes_half_precision_and_rgba_batches_like_float32_rgb(pack, variant):
    sources, generated = moving_clip(5)
    original, gen = as_image_batch(sources), as_image_batch(generated)
    node = pack.NODE_CLASS_MAPPINGS["AbyszDFI"]()
    expected, _ = node.stabilise(original, gen, **dfi_values())
    if variant == "float16":
        original, gen = original.half(), gen.half()  # k / 255 survives float16 within half a grey level
    else:
        alpha = torch.ones((*gen.shape[:3], 1))
        original, gen = torch.cat([original, alpha], dim=3), torch.cat([gen, alpha], dim=3)
    got, _ = node.stabilise(original, gen, **dfi_values())
    assert torch.equal(got, expected)


def _interrupt_at(progress_log, frame: int):
    import comfy.model_management as mm
    import comfy.utils

    def hook(value, total, preview, node_id=None):
        progress_log.append((value, total))
        if value == frame:
            mm.interrupt_current_processing(True)

    comfy.utils.PROGRESS_BAR_HOOK = hook
    return mm.InterruptProcessingException


def test_interrupt_stops_the_deflicker_node_too(pack, progress_log):
    _, generated = moving_clip(12)
    interrupted = _interrupt_at(progress_log, 2)
    with pytest.raises(interrupted):
        pack.NODE_CLASS_MAPPINGS["AbyszDeflickerPreset"]().deflicker(
            as_image_batch(generated), "temporal-median", True, strength=1.0, window=15, engine="numpy"
        )
    assert progress_log[-1][0] < 12


def test_interrupt_stops_loading_frames_between_files(pack, progress_log, tmp_path):
    write_frames(tmp_path / "f", [np.full((8, 8, 3), v, np.uint8) for v in range(10)])
    interrupted = _interrupt_at(progress_log, 3)
    with pytest.raises(interrupted):
        pack.NODE_CLASS_MAPPINGS["AbyszLoadFrames"]().load(str(tmp_path / "f"), 0, 0)
    assert progress_log[-1][0] < 10
