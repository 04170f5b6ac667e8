"""install.py's version check: our own packages are upgraded when too old, the WebUI's never."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def install():
    sys.path.insert(0, str(REPO))
    try:
        import install as module
    finally:
        sys.path.remove(str(REPO))
    return module


def _versions(**installed):
    def version_of(name):
        if name not in installed:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed[name]

    return version_of


def test_an_old_wand_is_upgraded(install):
    old = _versions(Wand="0.6.13", tqdm="4.66.1", matplotlib="3.9.0", **{"imageio-ffmpeg": "0.5.1"})
    assert install.outdated_requirements(old) == ["Wand>=0.7"]


def test_current_versions_and_missing_packages_are_not_upgrades(install):
    assert install.outdated_requirements(_versions(Wand="0.7.2", tqdm="4.67.0rc1")) == []


def test_upgrades_go_through_run_pip_with_dash_u(install, monkeypatch):
    calls = []

    class Launch:
        @staticmethod
        def is_installed(module):
            return True

        @staticmethod
        def run_pip(command, desc=None, live=False):
            calls.append(command)

    monkeypatch.setattr(install, "outdated_requirements", lambda: ["Wand>=0.7"])
    install.install_missing(Launch)
    assert calls == ['install -U "Wand>=0.7"']


# --- outside A1111 (ComfyUI-Manager, or run by hand): this Python's pip -----------------------------


def _pip_recorder(ok: bool = True):
    calls: list[list[str]] = []

    def pip(arguments):
        calls.append(arguments)
        return ok

    return calls, pip


def test_requirements_come_from_requirements_txt_with_their_import_names(install):
    assert install.REQUIREMENTS == [
        ("wand", "Wand>=0.7"),
        ("tqdm", "tqdm>=4.60"),
        ("imageio_ffmpeg", "imageio-ffmpeg>=0.5"),
        ("matplotlib", "matplotlib>=3.5"),
    ]


def test_without_launch_missing_packages_are_installed_with_pip_as_argument_lists(install):
    calls, pip = _pip_recorder()
    present = {"cv2", "tqdm", "matplotlib"}
    install.install_with_pip(pip, is_importable=present.__contains__, version_of=_versions(tqdm="4.66.1"))
    assert calls == [["install", "Wand>=0.7"], ["install", "imageio-ffmpeg>=0.5"]]


@pytest.mark.parametrize("variant", ["opencv-python", "opencv-python-headless", "opencv-contrib-python"])
def test_an_installed_opencv_variant_is_accepted_and_no_other_is_added(install, variant):
    calls, pip = _pip_recorder()
    present = {"cv2", "wand", "tqdm", "imageio_ffmpeg", "matplotlib"}
    install.install_with_pip(pip, is_importable=present.__contains__, version_of=_versions(**{variant: "4.10.0"}))
    assert calls == []


def test_without_any_opencv_the_headless_wheel_is_installed(install):
    calls, pip = _pip_recorder()
    present = {"wand", "tqdm", "imageio_ffmpeg", "matplotlib"}
    install.install_with_pip(pip, is_importable=present.__contains__, version_of=_versions())
    assert calls == [["install", "opencv-python-headless>=4.5"]]


def test_a_broken_opencv_is_reported_not_covered_with_a_second_variant(install, capsys):
    calls, pip = _pip_recorder()
    present = {"wand", "tqdm", "imageio_ffmpeg", "matplotlib"}  # cv2 does not import...
    install.install_with_pip(pip, is_importable=present.__contains__, version_of=_versions(**{"opencv-python": "4.9"}))
    assert calls == []  # ...but a variant is installed: a second one would make it worse
    assert "--force-reinstall opencv-python" in capsys.readouterr().err


def test_a_failed_pip_run_is_reported_and_the_other_installs_still_run(install, capsys):
    calls, pip = _pip_recorder(ok=False)
    install.install_with_pip(pip, is_importable=lambda module: False, version_of=_versions())
    assert len(calls) == 5
    assert "could not install Wand>=0.7" in capsys.readouterr().err
