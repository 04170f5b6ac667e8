"""Inside A1111 (the stand-in, with A1111 1.10's flag names): folders confined when shared, frame limit setting."""

from __future__ import annotations

import pytest
from ui_support import REPO, STANDIN, forget_standin_modules, needs_gradio

from abysz_lab import access, frames
from abysz_lab.errors import InputError

pytestmark = [pytest.mark.ui, needs_gradio]


@pytest.fixture
def webui(monkeypatch, tmp_path):
    """The stand-in's modules, the extension's script loaded, its settings registered; WebUI root = tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(STANDIN))
    forget_standin_modules()
    from modules import script_callbacks, scripts, shared

    scripts.load_extension_scripts(str(REPO))
    script_callbacks.ui_settings_callback()
    yield script_callbacks, shared
    forget_standin_modules()


def _path_box(text):
    from abysz_lab.ui import common

    return common.path_box(text, "the DFI output folder")


def test_a_local_webui_stays_unrestricted(webui, tmp_path):
    script_callbacks, _ = webui
    script_callbacks.ui_tabs_callback()
    assert access.current_policy().unrestricted
    assert _path_box("/etc") == __import__("pathlib").Path("/etc")


@pytest.mark.parametrize(
    "flag", [("listen", True), ("share", True), ("hide_ui_dir_config", True), ("server_name", "0.0.0.0")]
)
def test_a_shared_webui_confines_folders_to_its_outputs_folder(webui, tmp_path, flag):
    script_callbacks, shared = webui
    setattr(shared.cmd_opts, *flag)
    script_callbacks.ui_tabs_callback()
    outputs = tmp_path.resolve() / "outputs"
    assert access.current_policy().roots == (outputs,)
    assert _path_box(str(outputs / "dfi")) == outputs / "dfi"
    with pytest.raises(InputError, match=f"outside the folders this server may use .*{outputs}"):
        _path_box("/etc")


def test_an_api_only_webui_that_listens_confines_the_api_too(webui, tmp_path):
    """--nowebui builds no tab (on_ui_tabs never runs), yet our routes are added: they must be confined."""
    from fastapi import FastAPI

    script_callbacks, shared = webui
    shared.cmd_opts.api, shared.cmd_opts.listen = True, True
    script_callbacks.app_started_callback(None, FastAPI())
    assert access.current_policy().roots == (tmp_path.resolve() / "outputs",)


def test_the_roots_setting_applies_when_changed_in_settings(webui, tmp_path):
    script_callbacks, shared = webui
    shared.cmd_opts.listen = True
    script_callbacks.ui_tabs_callback()
    (tmp_path / "videos").mkdir()
    shared.opts.set("abysz_lab_allowed_roots", f"{tmp_path / 'videos'}\n/nonexistent-abysz")
    assert access.current_policy().roots == ((tmp_path / "videos").resolve(),)
    with pytest.raises(InputError, match="outside"):
        _path_box(str(tmp_path / "outputs"))


def test_the_frame_limit_setting_is_applied(webui):
    script_callbacks, shared = webui
    assert shared.opts.abysz_lab_max_megapixels == 64
    shared.opts.set("abysz_lab_max_megapixels", 2)
    assert frames.frame_limits().max_pixels == 2_000_000


@pytest.mark.parametrize(("share", "expected"), [(False, 403), (True, 200)])
def test_our_routes_in_a_shared_webui_answer_its_tunnel_host_only_when_shared(share, expected):
    """--share brings requests in as <id>.gradio.live; other names stay refused (DNS rebinding)."""
    from types import SimpleNamespace

    import requests
    from api_support import uvicorn_thread
    from fastapi import FastAPI

    from abysz_lab import api

    app = FastAPI()
    assert api.register_webui(app, SimpleNamespace(api=True, api_auth=None, listen=False, share=share))
    with uvicorn_thread(app) as base:

        def status(host: str) -> int:
            return requests.get(f"{base}{api.PREFIX}/version", headers={"Host": host}, timeout=10).status_code

        assert status("abc123.gradio.live") == expected
        assert status("rebind.example") == 403
        assert status(base.removeprefix("http://")) == 200
