"""The API inside the A1111 stand-in: added from on_app_started only with --api, behind --api-auth.

The stand-in (tests/a1111_standin) follows A1111 1.10's signatures: the WebUI
calls every ``on_app_started`` callback with ``(demo, app)`` whether or not
``--api`` was given, and its own API reads ``shared.cmd_opts.api_auth``.
"""

from __future__ import annotations

import pytest
import requests
from api_support import uvicorn_thread, wait_for
from ui_support import REPO, STANDIN, forget_standin_modules, needs_gradio

from abysz_lab import cli
from abysz_lab.demo import make_demo_clip

pytestmark = [pytest.mark.ui, needs_gradio]
V1 = "/abysz-lab/v1"


@pytest.fixture
def webui(monkeypatch, tmp_path):
    """The stand-in's modules, the extension's scripts loaded, and a fresh FastAPI app like the WebUI's."""
    from fastapi import FastAPI

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(STANDIN))
    forget_standin_modules()
    from modules import script_callbacks, scripts, shared

    scripts.load_extension_scripts(str(REPO))
    yield script_callbacks, shared, FastAPI()
    forget_standin_modules()


def ours(app) -> list[str]:
    return [r.path for r in app.routes if getattr(r, "path", "").startswith("/abysz-lab")]


def test_without_api_flag_no_route_is_registered(webui):
    script_callbacks, shared, app = webui
    script_callbacks.app_started_callback(None, app)
    assert ours(app) == []


def test_with_api_flag_the_routes_answer_and_a_job_matches_the_cli(webui, tmp_path):
    script_callbacks, shared, app = webui
    shared.cmd_opts.api = True
    script_callbacks.app_started_callback(None, app)
    assert f"{V1}/jobs" in ours(app)
    clip = make_demo_clip(tmp_path / "clip", frames=6, width=96, height=64)
    body = {"kind": "dfi", "source": str(clip.source), "generated": str(clip.generated), "out": str(tmp_path / "api")}
    with uvicorn_thread(app) as url:
        assert requests.get(f"{url}{V1}/version", timeout=10).status_code == 200
        job = requests.post(f"{url}{V1}/jobs", json=body | {"expand": 3}, timeout=30).json()["id"]
        assert wait_for(url, job)["state"] == "done"
        bad = requests.post(f"{url}{V1}/jobs", json=body | {"expand": 99}, timeout=30)
        assert bad.status_code == 422 and bad.json()["field"] == "expand"
    argv = ["dfi", "--source", str(clip.source), "--generated", str(clip.generated), "--out", str(tmp_path / "cli")]
    assert cli.main([*argv, "--expand", "3"]) == 0
    api_files = sorted((tmp_path / "api").glob("*.png"))
    assert len(api_files) == 6
    assert [p.read_bytes() for p in api_files] == [p.read_bytes() for p in sorted((tmp_path / "cli").glob("*.png"))]


def test_with_api_auth_a_request_without_credentials_gets_401(webui):
    script_callbacks, shared, app = webui
    shared.cmd_opts.api = True
    shared.cmd_opts.api_auth = "ann:s3cret,bob:pw"
    script_callbacks.app_started_callback(None, app)
    with uvicorn_thread(app) as url:
        assert requests.get(f"{url}{V1}/version", timeout=10).status_code == 401
        assert requests.get(f"{url}{V1}/version", auth=("bob", "pw"), timeout=10).status_code == 200


def test_standalone_ui_with_api_serves_the_page_and_the_api(tmp_path):
    import sys

    from ui_support import free_port, serving

    port = free_port()
    command = [sys.executable, "-m", "abysz_lab", "ui", "--api", "--port", str(port)]
    # The routes are added just after gradio starts answering: wait for the API itself.
    with serving(command, tmp_path / "server.log", f"http://127.0.0.1:{port}{V1}/version"):
        assert requests.get(f"http://127.0.0.1:{port}{V1}/version", timeout=10).json()["api"] == 1
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
