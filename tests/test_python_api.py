"""The Python API: ``import abysz_lab`` is light, exports the verbs, and every docstring example runs."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import numpy as np
import pytest
from conftest import noisy_copies, static_scene, write_frames

import abysz_lab

MODULES = ["abysz_lab.pipeline", "abysz_lab.dfi", "abysz_lab.playground", "abysz_lab.video", "abysz_lab.analysis"]
MODULES += ["abysz_lab.jobs", "abysz_lab.params", "abysz_lab.fuse"]
MODULES += [f"abysz_lab.playground.{name}" for name in ("presets", "storage", "engines", "chain", "runner")]


def test_importing_the_package_loads_neither_gradio_nor_opencv():
    code = "import abysz_lab, sys; print(sorted(m for m in ('gradio', 'cv2', 'fastapi') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_every_name_in_all_resolves_to_a_documented_object():
    for name in abysz_lab.__all__:
        value = getattr(abysz_lab, name)
        if name != "__version__":
            assert (value.__doc__ or "").strip(), name


@pytest.mark.parametrize(
    "verb",
    [
        "stabilise",
        "run_dfi",
        "iter_dfi",
        "preview_masks",
        "apply_preset",
        "extract_frames",
        "assemble_video",
        "analyze_folders",
    ],
)
def test_each_verb_has_an_example(verb):
    assert "Examples\n    --------" in getattr(abysz_lab, verb).__doc__


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        abysz_lab.nope  # noqa: B018 - the access is the test


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_iter_dfi_on_arrays_equals_run_dfi_on_the_same_frames_written_as_png(tmp_path):
    scene = static_scene()
    sources = [scene] * 6
    generated = noisy_copies(scene, 6)
    write_frames(tmp_path / "s", sources)
    write_frames(tmp_path / "g", generated)
    summary = abysz_lab.run_dfi(tmp_path / "s", tmp_path / "g", tmp_path / "out")
    from abysz_lab.frames import read_frame

    for path, frame in zip(summary.outputs, abysz_lab.iter_dfi(sources, generated), strict=True):
        assert np.array_equal(read_frame(path), frame)


def test_all_lists_exactly_the_lazy_exports():
    assert set(abysz_lab.__all__) == {"__version__", *abysz_lab._EXPORTS}
