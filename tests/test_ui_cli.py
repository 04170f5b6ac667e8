"""``python -m abysz_lab ui`` where gradio is missing: one clear line and exit code 3."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from ui_support import REPO


@pytest.mark.skipif(importlib.util.find_spec("gradio") is not None, reason="gradio is installed here")
def test_ui_without_gradio_says_how_to_get_it():
    result = subprocess.run(
        [sys.executable, "-m", "abysz_lab", "ui"], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 3
    assert "pip install 'gradio>=3.41.2'" in result.stderr
    assert "Traceback" not in result.stderr


def test_ui_command_is_listed_with_its_flags():
    from abysz_lab.cli import build_parser

    args = build_parser().parse_args(["ui", "--port", "7999", "--listen", "--demo"])
    assert (args.port, args.listen, args.demo, args.demo_dir) == (7999, True, True, "abysz_demo")
