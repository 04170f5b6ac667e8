"""The built Abysz LAB tab: unique labels and ids, controls from the dataclass, sub-tab registration, settings."""

from __future__ import annotations

import os
import textwrap

import pytest
from ui_support import needs_gradio

pytestmark = [pytest.mark.ui, needs_gradio]


def _components(blocks):
    from abysz_lab.ui import common, compat

    return [b for b in compat.iter_components(blocks) if common.config_key(b) is not None]


@pytest.mark.parametrize("in_webui", [False, True])
def test_labels_are_unique_within_the_tab(in_webui):
    from abysz_lab.ui import UISettings, build_ui, common

    assert common.duplicate_labels(build_ui(UISettings(in_webui=in_webui))) == []


def test_every_labelled_component_and_button_has_a_prefixed_elem_id():
    from abysz_lab.ui import UISettings, build_ui

    bare = [
        f"{type(c).__name__} {getattr(c, 'label', None) or c.value!r}"
        for c in _components(build_ui(UISettings(in_webui=True)))
        if not (c.elem_id or "").startswith(("abysz_", "abysz-"))
    ]
    assert bare == []


def test_the_dfi_tab_has_a_control_for_every_dfi_parameter():
    from abysz_lab import params as prm
    from abysz_lab.dfi import DFIParams
    from abysz_lab.ui import build_ui

    ids = {c.elem_id for c in _components(build_ui())}
    assert {f"abysz_dfi_{s.name}" for s in prm.specs(DFIParams)} <= ids


def test_send_to_img2img_is_only_rendered_inside_the_webui():
    from abysz_lab.ui import UISettings, build_ui

    def send_button(blocks):
        return next(c for c in _components(blocks) if c.elem_id == "abysz_dfi_send_img2img")

    assert send_button(build_ui(UISettings(in_webui=True))).visible
    assert not send_button(build_ui(UISettings(in_webui=False))).visible


def test_standalone_prefills_the_folders():
    from abysz_lab.ui import UISettings, build_ui

    blocks = build_ui(UISettings(source="/clip/source", generated="/clip/generated", output="/clip/out"))
    values = {c.elem_id: c.value for c in _components(blocks)}
    assert values["abysz_dfi_source"] == "/clip/source"
    assert values["abysz_dfi_generated"] == "/clip/generated"
    assert values["abysz_dfi_output"] == "/clip/out"


def test_a_registered_subtab_module_is_built_inside_its_own_tab(tmp_path, monkeypatch):
    import gradio as gr

    from abysz_lab.ui import SubTab, build_ui

    (tmp_path / "abysz_extra_tab_for_test.py").write_text(
        textwrap.dedent(
            """
            import gradio as gr

            def build(ctx):
                gr.Textbox(label="Extra box", value=ctx.subtab.title, elem_id="abysz_extra_box")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    blocks = build_ui(subtabs=[SubTab("Extra", "abysz_extra_tab", "abysz_extra_tab_for_test")])
    tabs = [b for b in blocks.blocks.values() if isinstance(b, gr.Tab)]
    assert [t.elem_id for t in tabs] == ["abysz_extra_tab"]
    box = next(c for c in _components(blocks) if c.elem_id == "abysz_extra_box")
    assert box.value == "Extra"


def test_a_subtab_repeating_one_of_its_own_labels_fails_the_build(tmp_path, monkeypatch):
    from abysz_lab.ui import SUBTABS, SubTab, build_ui

    (tmp_path / "abysz_clash_tab_for_test.py").write_text(
        "import gradio as gr\n\ndef build(ctx):\n"
        "    gr.Textbox(label='Output folder', elem_id='abysz_clash_1')\n"
        "    gr.Textbox(label='Output folder', elem_id='abysz_clash_2')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="abysz_clash_tab/Output folder"):
        build_ui(subtabs=[*SUBTABS, SubTab("Clash", "abysz_clash_tab", "abysz_clash_tab_for_test")])


def _a1111_config_keys(blocks, tab_id="abysz_lab"):
    """The ui-config.json keys A1111 1.10 files our values under (modules/ui_loadsave.py: add_block walks the
    tree with path = tab id, a component's key is "<path>/<label or button text>/value", prefixed with
    "customscript/<custom_script_source>/" when the component carries that attribute)."""
    keys = []

    def walk(block):
        children = getattr(block, "children", None)
        if children is not None:
            for child in children:
                walk(child)
            return
        name = getattr(block, "label", None) or (block.value if type(block).__name__ == "Button" else None)
        if name is None:
            return
        key = f"{tab_id}/{name}/value"
        source = getattr(block, "custom_script_source", None)
        keys.append(f"customscript/{source}/{key}" if source is not None else key)

    walk(blocks)
    return keys


@pytest.mark.parametrize("in_webui", [False, True])
def test_plain_labels_still_get_one_a1111_config_key_each(in_webui):
    from abysz_lab.ui import UISettings, build_ui

    blocks = build_ui(UISettings(in_webui=in_webui))
    keys = _a1111_config_keys(blocks)
    assert len(keys) > 60
    assert sorted(k for k in set(keys) if keys.count(k) > 1) == []
    # Two sub-tabs (and two Tools sections) each have an "Output folder"; a prefix is no longer needed.
    assert sum(k.endswith("/Output folder/value") for k in keys) >= 3
    prefixed = [k for k in keys if k.split("/")[-2].startswith(("DFI ", "Playground ", "Tools ", "Analyze "))]
    assert prefixed == []


def test_settings_options_come_from_the_settings_dataclass():
    from abysz_lab.ui import settings_options

    options = {o.key: o for o in settings_options()}
    assert set(options) == {
        "abysz_lab_output_root",
        "abysz_lab_preview_frames",
        "abysz_lab_magick_home",
        "abysz_lab_allowed_roots",
        "abysz_lab_max_megapixels",
    }
    limit = options["abysz_lab_max_megapixels"]
    assert limit.slider
    assert (limit.default, limit.component_args["minimum"], limit.component_args["maximum"]) == (64, 1, 1024)
    preview = options["abysz_lab_preview_frames"]
    assert preview.slider
    assert (preview.default, preview.component_args["minimum"], preview.component_args["maximum"]) == (4, 1, 12)


def test_a_bad_saved_setting_falls_back_to_its_default(capsys):
    from abysz_lab.ui import settings_from_host

    settings = settings_from_host({"preview_frames": 99, "output_root": "/renders"}, in_webui=True)
    assert settings.preview_frames == 4
    assert settings.output_root == "/renders"
    assert "Preview frame count" in capsys.readouterr().err


def test_imagemagick_location_sets_magick_home(tmp_path, monkeypatch):
    from abysz_lab.ui import apply_magick_home

    monkeypatch.delenv("MAGICK_HOME", raising=False)
    apply_magick_home(str(tmp_path))
    assert os.environ["MAGICK_HOME"] == str(tmp_path)


def test_imagemagick_location_that_is_not_a_folder_is_ignored_with_a_note(tmp_path, monkeypatch):
    from abysz_lab.ui import apply_magick_home

    monkeypatch.delenv("MAGICK_HOME", raising=False)
    note = apply_magick_home(str(tmp_path / "missing"))
    assert "not a folder" in note
    assert "MAGICK_HOME" not in os.environ


def test_a_built_tab_is_freed_once_nothing_refers_to_it():
    """Reload UI builds a new tab: the old one (and its handlers) must not be kept alive by a cache."""
    import gc
    import weakref

    from abysz_lab.ui import UISettings, build_ui

    blocks = build_ui(UISettings(in_webui=True))
    ref = weakref.ref(blocks)
    del blocks
    gc.collect()
    assert ref() is None


RUN_BUTTONS = [
    "abysz_dfi_run",
    "abysz_dfi_preview",
    "abysz_pg_apply",
    "abysz_pg_preview",
    *(f"abysz_tools_{tool}_run" for tool in ("extract", "assemble", "compare", "fuse")),
    "abysz_an_run",
]


@pytest.mark.parametrize("elem_id", RUN_BUTTONS)
def test_a_second_click_on_a_run_button_is_not_held_back_by_gradios_queue(elem_id):
    """gradio 4 runs one event at a time by default: a second click would wait silently, not reach our guard."""
    import gradio as gr

    if gr.__version__.startswith("3."):
        pytest.skip("gradio 3.41 has no per-event concurrency limit (the host's queue size applies)")
    from abysz_lab.ui import UISettings, build_ui

    blocks = build_ui(UISettings(in_webui=True))
    fns = blocks.fns.values() if isinstance(blocks.fns, dict) else blocks.fns
    limits = {
        getattr(blocks.blocks.get(target[0]), "elem_id", None): fn.concurrency_limit
        for fn in fns
        for target in fn.targets
        if target[1] == "click"
    }
    assert elem_id in limits
    assert limits[elem_id] is None


def test_a_setting_saved_as_none_counts_as_unset():
    from abysz_lab.ui import settings_from_host

    settings = settings_from_host({"output_root": None, "magick_home": None, "preview_frames": None})
    assert (settings.output_root, settings.magick_home, settings.preview_frames) == ("", "", 4)
