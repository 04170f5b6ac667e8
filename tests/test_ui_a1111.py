"""scripts/abysz_tab.py loaded the way A1111 loads extension scripts, against a stand-in of its modules."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from ui_support import REPO, STANDIN, forget_standin_modules, needs_gradio

pytestmark = [pytest.mark.ui, needs_gradio]


@pytest.fixture
def webui(monkeypatch, tmp_path):
    """The stand-in's modules on sys.path, a fresh callback registry, and the extension's scripts loaded."""
    monkeypatch.chdir(tmp_path)  # the "WebUI root"
    monkeypatch.syspath_prepend(str(STANDIN))
    forget_standin_modules()
    from modules import script_callbacks, scripts, shared

    loaded = scripts.load_extension_scripts(str(REPO))
    yield script_callbacks, scripts, shared, loaded
    forget_standin_modules()


def test_only_the_entry_script_is_loaded(webui):
    *_, loaded = webui
    assert [m.__name__ for m in loaded] == ["abysz_tab.py"]


def test_one_tab_and_one_settings_callback_are_registered(webui):
    script_callbacks, *_ = webui
    assert len(script_callbacks.callback_map["callbacks_ui_tabs"]) == 1
    assert len(script_callbacks.callback_map["callbacks_ui_settings"]) == 1


def test_settings_appear_in_the_abysz_lab_section(webui):
    script_callbacks, _, shared, _ = webui
    script_callbacks.ui_settings_callback()
    ours = {k: v for k, v in shared.opts.data_labels.items() if k.startswith("abysz_lab_")}
    assert set(ours) == {
        "abysz_lab_output_root",
        "abysz_lab_preview_frames",
        "abysz_lab_magick_home",
        "abysz_lab_allowed_roots",
        "abysz_lab_max_megapixels",
    }
    assert {v.section for v in ours.values()} == {("abysz_lab", "Abysz LAB")}
    assert {v.category_id for v in ours.values()} == {"postprocessing"}  # A1111 1.7+: under "Postprocessing"
    assert shared.opts.abysz_lab_preview_frames == 4


def test_the_tab_is_a_blocks_titled_abysz_lab(webui):
    import gradio as gr

    script_callbacks, _, shared, _ = webui
    script_callbacks.ui_settings_callback()
    [(blocks, title, elem_id)] = script_callbacks.ui_tabs_callback()
    assert isinstance(blocks, gr.Blocks)
    assert (title, elem_id) == ("Abysz LAB", "abysz_lab")


def test_saved_settings_reach_the_tab(webui):
    from abysz_lab.ui import common, compat

    script_callbacks, _, shared, _ = webui
    script_callbacks.ui_settings_callback()
    shared.opts.abysz_lab_preview_frames = 7
    [(blocks, _, _)] = script_callbacks.ui_tabs_callback()
    key = "abysz_dfi_tab/Preview frame numbers"
    box = next(b for b in compat.iter_components(blocks) if common.config_key(b) == key)
    assert "7 frames" in box.placeholder
    send = next(b for b in compat.iter_components(blocks) if getattr(b, "elem_id", "") == "abysz_dfi_send_img2img")
    assert send.visible


def test_reload_ui_registers_the_callbacks_again(webui):
    script_callbacks, scripts, *_ = webui
    script_callbacks.clear_callbacks()
    scripts.load_extension_scripts(str(REPO))
    assert len(script_callbacks.callback_map["callbacks_ui_tabs"]) == 1


# Run in a fresh interpreter where ``abysz_lab`` is importable only through the extension
# root that the stand-in puts on sys.path while it imports scripts/ (the test venvs also
# carry an editable install of the package, which would hide the problem).
_LOAD_THEN_CALL_CALLBACKS = """
import importlib.util, os, sys
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path[:] = [p for p in sys.path if not os.path.isdir(os.path.join(p or os.getcwd(), "abysz_lab"))]
if importlib.util.find_spec("abysz_lab") is not None:
    sys.exit("abysz_lab is still importable: this check would prove nothing")
sys.path.insert(0, sys.argv[1])
from modules import script_callbacks, scripts
scripts.load_extension_scripts(sys.argv[2])
script_callbacks.ui_settings_callback()
[(blocks, title, elem_id)] = script_callbacks.ui_tabs_callback()
print(title, elem_id)
"""


def test_callbacks_work_after_the_extension_root_left_sys_path(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["GRADIO_ANALYTICS_ENABLED"] = "False"
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_THEN_CALL_CALLBACKS, str(STANDIN), str(REPO)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "Abysz LAB abysz_lab"
