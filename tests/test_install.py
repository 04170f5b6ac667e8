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
