"""A1111/Forge entry point: register the Abysz LAB tab and its settings. No processing here.

A1111 loads this file with ``spec_from_file_location`` while the extension root is
on ``sys.path``, and takes it off again right after: the ``abysz_lab`` package must
be imported here, at module level, not inside the callbacks (which run later).
Callbacks are registered at import, because "Reload UI" clears them and re-imports
this file.
"""

from __future__ import annotations

import gradio as gr

from abysz_lab import api
from abysz_lab.access import current_policy
from abysz_lab.ui import (
    TAB_ELEM_ID,
    apply_magick_home,
    apply_webui_access,
    build_ui,
    compat,
    settings_from_host,
    settings_options,
)
from modules import paths_internal, script_callbacks, shared

SECTION = ("abysz_lab", "Abysz LAB")
ACCESS_SETTINGS = ("allowed_roots", "max_megapixels")  # applied at once when changed in Settings
CATEGORY = "postprocessing"  # A1111 >= 1.7 groups settings sections under categories; older ones lack category_id


def on_ui_settings() -> None:
    """Add the Abysz LAB section to A1111's Settings."""
    for option in settings_options():
        info = shared.OptionInfo(
            option.default,
            option.label,
            component=gr.Slider if option.slider else None,
            component_args=option.component_args,
            onchange=apply_access if option.name in ACCESS_SETTINGS else None,
            section=SECTION,
            **compat.supported(shared.OptionInfo.__init__, category_id=CATEGORY),
        )
        if callable(getattr(info, "info", None)):  # A1111 >= 1.5 shows it under the label
            info = info.info(option.help)
        shared.opts.add_option(option.key, info)


def current_settings():
    """UISettings from A1111's saved settings."""
    saved = {o.name: getattr(shared.opts, o.key, o.default) for o in settings_options()}
    return settings_from_host(saved, in_webui=True)


def apply_access() -> None:
    """Confine folders (when the WebUI is shared or hides directory settings) and set the frame limit."""
    note = apply_webui_access(current_settings(), shared.cmd_opts, paths_internal.default_output_dir)
    if note:
        print(note)


def on_ui_tabs() -> list[tuple[object, str, str]]:
    """Build the tab from the current settings."""
    settings = current_settings()
    apply_access()
    note = apply_magick_home(settings.magick_home)
    if note:
        print(note)
    return [(build_ui(settings), "Abysz LAB", TAB_ELEM_ID)]


def on_app_started(demo: object, app: object) -> None:
    """Add the HTTP API under /abysz-lab/v1 when the WebUI runs with --api (guarded by --api-auth)."""
    del demo  # the API needs only the FastAPI app
    if not getattr(shared.cmd_opts, "api", False):
        return
    # With --nowebui no tab is built, so on_ui_tabs never set the folder policy: the API needs it as well.
    if current_policy().unrestricted:  # else on_ui_tabs set it (and said so) already
        apply_access()
    if api.register_webui(app, shared.cmd_opts):
        print("Abysz LAB: HTTP API at /abysz-lab/v1/ (see /docs).")


script_callbacks.on_ui_settings(on_ui_settings)
script_callbacks.on_ui_tabs(on_ui_tabs)
script_callbacks.on_app_started(on_app_started)
