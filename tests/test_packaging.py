"""What a packager or an Extensions-tab user looks for: the licence, the changelog, a suite that runs without extras."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]


def _project() -> dict:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    if tomllib is not None:
        return tomllib.loads(text)["project"]
    return {
        "license": re.search(r'^license = "([^"]+)"', text, re.M).group(1),
        "version": re.search(r'^version = "([^"]+)"', text, re.M).group(1),
    }


def test_the_licence_file_is_the_one_pyproject_declares():
    assert _project()["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 Abysz LAB contributors" in text
    assert "Permission is hereby granted, free of charge" in text


def test_the_changelog_has_an_unreleased_section_and_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[0] == "Unreleased"
    assert any(re.fullmatch(rf"{re.escape(_project()['version'])} - \d{{4}}-\d\d-\d\d", h) for h in headings)


def _pytest_without_pyav(*args: str) -> subprocess.CompletedProcess:
    """Run pytest on tests/test_video.py in a fresh interpreter where ``import av`` fails."""
    code = (
        "import sys; sys.modules['av'] = None; import pytest; "
        f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/test_video.py', *{list(args)!r}]))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)


def test_video_tests_collect_without_pyav():
    # Importing PyAV at module level made the whole file an error where it is not installed.
    done = _pytest_without_pyav("--collect-only")
    assert done.returncode == 0, done.stdout[-2000:]
    assert "error" not in done.stdout.lower()


def test_a_video_test_that_needs_pyav_skips_without_it():
    done = _pytest_without_pyav("-rs", "-k", "compare_shows_each_input_in_its_panel")
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 skipped" in done.stdout
    assert "could not import 'av'" in done.stdout
