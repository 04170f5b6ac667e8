"""install.py, run the way A1111 runs it: a subprocess with the WebUI root (here the stand-in) on PYTHONPATH."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from ui_support import REPO, STANDIN

pytest.importorskip("wand", reason="install.py's checks need Wand installed")


def _run_install(tmp_path, extra_path: str = "") -> tuple[subprocess.CompletedProcess, list[str]]:
    log = tmp_path / "pip.log"
    env = {k: v for k, v in os.environ.items() if k not in {"MAGICK_HOME", "PYTHONPATH"}}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, str(STANDIN)) if p)
    env["ABYSZ_TEST_PIP_LOG"] = str(log)
    result = subprocess.run(
        [sys.executable, str(REPO / "install.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, log.read_text().splitlines() if log.exists() else []


def _hide_imagemagick(tmp_path):
    """A sitecustomize that makes the dynamic-library lookup find no ImageMagick, like a machine without it."""
    folder = tmp_path / "no_imagemagick"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import ctypes.util

            _find_library = ctypes.util.find_library

            def find_library(name):
                return None if "Magick" in name else _find_library(name)

            ctypes.util.find_library = find_library
            """
        )
    )
    return str(folder)


def test_nothing_is_installed_when_everything_is_present(tmp_path):
    result, pip_calls = _run_install(tmp_path)
    assert result.returncode == 0, result.stderr
    assert pip_calls == []
    assert "ImageMagick" not in result.stdout


def test_missing_imagemagick_prints_how_to_install_it_and_exits_0(tmp_path):
    result, pip_calls = _run_install(tmp_path, _hide_imagemagick(tmp_path))
    assert result.returncode == 0
    assert pip_calls == []
    for words in ("MagickWand shared library not found", "Windows:", "MAGICK_HOME", "Linux:", "macOS:", "brew"):
        assert words in result.stdout


def test_only_missing_requirements_are_installed_never_host_owned_ones():
    sys.path.insert(0, str(REPO))
    try:
        import install
    finally:
        sys.path.remove(str(REPO))
    present = {"tqdm", "imageio_ffmpeg", "matplotlib", "cv2", "numpy", "gradio", "PIL"}
    assert install.missing_requirements(lambda module: module in present) == ["Wand>=0.7"]
    assert not {m for m, _ in install.REQUIREMENTS} & set(install.HOST_OWNED)


def test_requirements_txt_is_pyprojects_dependency_list_without_the_host_owned_ones():
    """One list: install.py and ComfyUI-Manager read requirements.txt; pip installs of the package read pyproject."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    sys.path.insert(0, str(REPO))
    try:
        import install
    finally:
        sys.path.remove(str(REPO))
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    host_owned = {"numpy", "opencv-python"}  # every host has them; requirements.txt explains why they are absent
    lines = [
        line.strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sorted(lines) == sorted(d for d in declared if d.split(">")[0].split("=")[0].strip() not in host_owned)
    assert [req for _, req in install.REQUIREMENTS] == lines


def test_a_failed_pip_install_is_reported_and_does_not_stop_the_start(capsys):
    sys.path.insert(0, str(REPO))
    try:
        import install
    finally:
        sys.path.remove(str(REPO))
    calls = []

    class FailingLaunch:
        @staticmethod
        def is_installed(module):
            return False

        @staticmethod
        def run_pip(command, desc=None, live=False):
            calls.append(command)
            raise RuntimeError("Couldn't install")

    install.install_missing(FailingLaunch)
    assert calls == [f'install "{req}"' for _, req in install.REQUIREMENTS]
    assert "could not install" in capsys.readouterr().err
