"""The HTTP API over real HTTP on 127.0.0.1 (uvicorn in a thread): jobs, results, errors, auth."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
from api_support import free_port, uvicorn_thread, wait_for
from conftest import static_scene, write_frames
from media_support import demo_videos, video_facts

from abysz_lab import api, cli, pipeline
from abysz_lab.access import Credentials
from abysz_lab.demo import make_demo_clip
from abysz_lab.jobqueue import JobQueue

V1 = "/abysz-lab/v1"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def queue():
    jobs = JobQueue()
    yield jobs
    jobs.shutdown()


@pytest.fixture
def base(queue):
    with uvicorn_thread(api.create_app(queue=queue)) as url:
        yield url


@pytest.fixture
def clip(tmp_path):
    return make_demo_clip(tmp_path / "clip", frames=8, width=96, height=64)


def slow_clip(root, frames=40):
    """Frames big enough, with a heavy source denoise, that a DFI job runs for seconds."""
    scene = cv2.resize(static_scene(seed=4), (640, 480))
    rng = np.random.default_rng(2)
    write_frames(root / "s", [np.roll(scene, i, axis=1) for i in range(frames)])
    write_frames(root / "g", [np.clip(scene + rng.normal(0, 9, scene.shape), 0, 255).astype(np.uint8)] * frames)
    return root / "s", root / "g"


def post(base, path, body, **kwargs):
    return requests.post(f"{base}{V1}{path}", json=body, timeout=30, **kwargs)


def test_version_params_and_presets(base):
    assert requests.get(f"{base}{V1}/version", timeout=10).json()["version"]
    schema = requests.get(f"{base}{V1}/params", timeout=10).json()
    tolerance = schema["params"]["DFIParams"]["properties"]["tolerance"]
    assert (tolerance["minimum"], tolerance["maximum"], tolerance["default"]) == (0, 20, 5)
    assert schema["params"]["DFIParams"]["additionalProperties"] is False
    assert {"source", "generated", "out", "tolerance", "frames_limit", "no_resume"} <= set(schema["jobs"]["dfi"])
    assert "brightness-lock" in {p["name"] for p in requests.get(f"{base}{V1}/presets", timeout=10).json()}


def test_a_dfi_job_writes_the_same_bytes_as_the_cli(base, clip, tmp_path):
    body = {"kind": "dfi", "source": str(clip.source), "generated": str(clip.generated), "out": str(tmp_path / "api")}
    answer = post(base, "/jobs", body | {"tolerance": 4, "frames_limit": 6})
    assert answer.status_code == 202
    state = wait_for(base, answer.json()["id"])
    assert state["state"] == "done", state
    assert state["progress"] == 1.0 and state["phase"] == "DFI"
    argv = ["dfi", "--source", str(clip.source), "--generated", str(clip.generated), "--out", str(tmp_path / "cli")]
    assert cli.main([*argv, "--tolerance", "4", "--frames-limit", "6"]) == 0
    written = sorted((tmp_path / "api").glob("*.png"))
    assert len(written) == 6
    assert [p.read_bytes() for p in written] == [p.read_bytes() for p in sorted((tmp_path / "cli").glob("*.png"))]
    assert {f["path"] for f in state["files"]} >= {str(tmp_path / "api")}


def test_stabilise_over_http_gives_the_same_frames_as_the_python_call(base, tmp_path):
    original, generated = demo_videos(tmp_path / "videos", frames=12)
    body = {"kind": "stabilise", "source": str(original), "generated": str(generated), "out": str(tmp_path / "h.mp4")}
    state = wait_for(base, post(base, "/jobs", body | {"compare": True}).json()["id"])
    assert state["state"] == "done", state
    assert state["result"]["video"] == str(tmp_path / "h.mp4")
    assert state["result"]["comparison"] == str(tmp_path / "h_compare.mp4")
    pipeline.stabilise(original, generated, tmp_path / "p.mp4")
    http, python = video_facts(tmp_path / "h.mp4"), video_facts(tmp_path / "p.mp4")
    assert np.array_equal(http["pixels"], python["pixels"])
    assert http["audio"] == 1


def test_cancel_mid_run_leaves_whole_frames_and_says_cancelled(base, tmp_path):
    source, generated = slow_clip(tmp_path)
    body = {"kind": "dfi", "source": str(source), "generated": str(generated), "out": str(tmp_path / "out")}
    job = post(base, "/jobs", body | {"map_denoise": 30}).json()["id"]
    deadline = time.monotonic() + 60
    while requests.get(f"{base}{V1}/jobs/{job}", timeout=10).json()["done"] < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert post(base, f"/jobs/{job}/cancel", {}).status_code == 200
    state = wait_for(base, job)
    assert state["state"] == "cancelled"
    assert "Cancelled after" in state["message"]
    written = sorted((tmp_path / "out").glob("*.png"))
    assert 3 <= len(written) < 40
    assert all(cv2.imread(str(p)).shape == (480, 640, 3) for p in written)
    assert not list((tmp_path / "out").glob(".*.part"))


def test_a_second_job_into_the_same_folder_is_refused_naming_the_first(base, tmp_path):
    source, generated = slow_clip(tmp_path)
    body = {"kind": "dfi", "source": str(source), "generated": str(generated), "out": str(tmp_path / "out")}
    first = post(base, "/jobs", body | {"map_denoise": 30}).json()["id"]
    second = post(base, "/jobs", body)
    assert second.status_code == 409
    assert first in second.json()["detail"]
    post(base, f"/jobs/{first}/cancel", {})
    wait_for(base, first)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"tolerance": 50}, "tolerance", "between 0 and 20"),
        ({"smooth": 4}, "smooth", "odd"),
        ({"tolerence": 4}, "tolerence", "Unknown field"),
        ({"frames_limit": "many"}, "frames_limit", "whole number"),
        ({"overwrite": "yes"}, "overwrite", "true or false"),
        ({"kind": "paint"}, "kind", "one of"),
        ({"out": None}, "out", "required"),
    ],
)
def test_bad_requests_get_422_naming_the_field(base, clip, tmp_path, change, field, words):
    body = {"kind": "dfi", "source": str(clip.source), "generated": str(clip.generated), "out": str(tmp_path / "o")}
    answer = post(base, "/jobs", {k: v for k, v in (body | change).items() if v is not None})
    assert answer.status_code == 422
    assert answer.json()["field"] == field
    assert words in answer.json()["detail"]
    assert "Traceback" not in answer.text


def test_a_job_cannot_raise_the_servers_frame_size_limit(base, clip, tmp_path):
    """--max-megapixels is the server's (it bounds its memory): a request naming it is refused, not ignored."""
    body = {"kind": "dfi", "source": str(clip.source), "generated": str(clip.generated), "out": str(tmp_path / "o")}
    answer = post(base, "/jobs", body | {"max_megapixels": 1024})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "max_megapixels"
    schema = requests.get(f"{base}{V1}/params", timeout=10).json()
    assert not any("max_megapixels" in fields for fields in schema["jobs"].values())


def test_a_deflicker_job_needs_a_preset_as_the_command_does(base, clip, tmp_path):
    answer = post(base, "/jobs", {"kind": "deflicker", "in": str(clip.generated), "out": str(tmp_path / "d")})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "preset"
    assert "brightness-lock" in answer.json()["detail"]  # the choices are named
    assert not (tmp_path / "d").exists()


def test_a_body_that_is_not_json_is_a_422_not_a_500(base):
    answer = requests.post(f"{base}{V1}/jobs", data=b"{not json", timeout=10)
    assert answer.status_code == 422
    assert "not valid JSON" in answer.json()["detail"]


def test_an_unknown_job_is_a_404(base):
    assert requests.get(f"{base}{V1}/jobs/nope", timeout=10).status_code == 404


def test_a_job_that_fails_says_why(base, tmp_path):
    body = {
        "kind": "dfi",
        "source": str(tmp_path / "gone"),
        "generated": str(tmp_path / "gone2"),
        "out": str(tmp_path / "o"),
    }
    state = wait_for(base, post(base, "/jobs", body).json()["id"])
    assert state["state"] == "failed"
    assert "does not exist" in state["error"]


def test_preview_masks_returns_base64_pngs(base, clip):
    body = {"source": str(clip.source), "generated": str(clip.generated), "frames": [2, 5], "tolerance": 6}
    answer = post(base, "/preview-masks", body)
    assert answer.status_code == 200, answer.text
    masks = answer.json()["masks"]
    # Numbers count from 1 as on the command line and in the tab: frame 2 is the second file (index 1).
    assert [(m["number"], m["index"]) for m in masks] == [(2, 1), (5, 4)]
    assert [m["name"] for m in masks] == [sorted(p.name for p in clip.generated.iterdir())[i] for i in (1, 4)]
    mask = cv2.imdecode(np.frombuffer(base64.b64decode(masks[0]["mask_png"]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (64, 96)
    assert post(base, "/preview-masks", body | {"tolerance": -1}).json()["field"] == "tolerance"
    assert post(base, "/preview-masks", body | {"frames": [0]}).json()["field"] == "frames"
    last = post(base, "/preview-masks", body | {"frames": [8]})  # the clip's last frame, 8 of 8
    assert last.status_code == 200, last.text


@pytest.fixture
def confined(tmp_path):
    """The process-wide access policy confined to ``tmp_path/root`` (as --listen --allowed-root sets it)."""
    from abysz_lab.access import AccessPolicy, set_policy

    root = tmp_path / "root"
    root.mkdir()
    previous = set_policy(AccessPolicy((root,), reason="testing"))
    yield root
    set_policy(previous)


def test_a_dfi_job_into_an_allowed_root_itself_may_not_write_its_work_folder_outside(base, tmp_path, confined):
    """<root>_work lies beside the root, outside it: the job is refused (403) before anything is written."""
    source, generated = demo_videos(confined / "videos", frames=4)
    body = {"kind": "dfi", "source": str(source), "generated": str(generated), "out": str(confined)}
    answer = post(base, "/jobs", body)
    assert answer.status_code == 403, answer.text
    assert answer.json()["field"] == "out"
    assert "work folder" in answer.json()["detail"]
    assert not (tmp_path / "root_work").exists()
    preview = post(base, "/preview-masks", {k: v for k, v in body.items() if k != "kind"})
    assert preview.status_code == 403, preview.text
    assert not (tmp_path / "root_work").exists()


def test_the_server_answers_other_requests_while_a_preview_computes(base, clip, monkeypatch):
    """A preview (mask computation, perhaps a video extraction) must not hold up polling and Cancel."""
    import threading

    from abysz_lab import dfi

    started, real = threading.Event(), dfi.preview_masks

    def slow_preview(*args, **kwargs):
        started.set()
        time.sleep(3)
        return real(*args, **kwargs)

    monkeypatch.setattr(dfi, "preview_masks", slow_preview)
    body = {"source": str(clip.source), "generated": str(clip.generated), "frames": [2]}
    preview = threading.Thread(target=post, args=(base, "/preview-masks", body))
    preview.start()
    try:
        assert started.wait(10)
        assert requests.get(f"{base}{V1}/version", timeout=1.5).status_code == 200
    finally:
        preview.join(30)


def test_jobs_lists_every_job_in_submission_order(base, clip, tmp_path):
    ids = []
    for n in range(3):
        body = {
            "kind": "dfi",
            "source": str(clip.source),
            "generated": str(clip.generated),
            "out": str(tmp_path / f"o{n}"),
        }
        ids.append(post(base, "/jobs", body).json()["id"])
    for job in ids:
        wait_for(base, job)
    listed = requests.get(f"{base}{V1}/jobs", timeout=10).json()["jobs"]
    assert [j["id"] for j in listed] == ids
    assert all(j["state"] == "done" for j in listed)


def test_with_auth_a_request_without_credentials_gets_401(queue):
    app = api.create_app(queue=queue, credentials=Credentials.parse("ann:s3cret"))
    with uvicorn_thread(app) as url:
        assert requests.get(f"{url}{V1}/version", timeout=10).status_code == 401
        assert requests.get(f"{url}{V1}/version", auth=("ann", "wrong"), timeout=10).status_code == 401
        assert requests.get(f"{url}{V1}/version", auth=("ann", "s3cret"), timeout=10).status_code == 200


def test_the_api_server_imports_no_gradio():
    code = "from abysz_lab import api; api.create_app(); import sys; print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO).stdout
    assert out.strip() == "False"


def test_python_m_abysz_lab_api_serves_with_auth(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "abysz_lab", "api", "--port", str(port), "--auth", "ann:pw"]
    url = f"http://127.0.0.1:{port}{V1}/version"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with open(tmp_path / "log", "w") as log:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(requests.ConnectionError):
                answer = requests.get(url, timeout=5)
                break
            assert proc.poll() is None, (tmp_path / "log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert answer.status_code == 401
        assert requests.get(url, auth=("ann", "pw"), timeout=5).json()["api"] == 1
    finally:
        proc.terminate()
        proc.wait(15)


def test_api_on_a_port_in_use_is_one_line_and_exit_2():
    """uvicorn alone logs the clash and exits 3, which the CLI documents as a missing dependency."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "abysz_lab", "api", "--port", str(port)]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: Port {port} is already in use")
    assert "Abysz LAB API on" not in done.stdout  # not announced as serving


def test_every_route_in_the_readme_exists():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(GET|POST) (/[^` ]*)` \|", readme, re.M))
    served = {(m, r.path.removeprefix(V1)) for r in api.create_app().routes for m in getattr(r, "methods", ()) or ()}
    assert documented
    assert documented <= served
    assert {(m, p) for m, p in served if not p.startswith("/docs") and p != "/openapi.json"} <= documented


def test_every_other_kind_runs_as_a_job(base, tmp_path):
    """extract -> deflicker -> assemble -> compare -> analyze, each a job with the CLI's field names."""
    original, generated = demo_videos(tmp_path / "videos", frames=8)
    t = tmp_path
    steps = [
        {"kind": "extract", "video": str(original), "out": str(t / "src")},
        {"kind": "extract", "video": str(generated), "out": str(t / "gen"), "image_format": "png"},
        {"kind": "deflicker", "in": str(t / "gen"), "out": str(t / "steady"), "preset": "brightness-lock"},
        {"kind": "assemble", "frames": str(t / "steady"), "out": str(t / "steady.mp4"), "timing": str(t / "src")},
        {"kind": "compare", "folders": [str(t / "src"), str(t / "gen"), str(t / "steady")], "out": str(t / "c.mp4")},
        {"kind": "analyze", "source": str(t / "src"), "generated": str(t / "gen"), "output": str(t / "steady")}
        | {"report": str(t / "report"), "heatmap_frame": 3},
    ]
    for body in steps:
        answer = post(base, "/jobs", body)
        assert answer.status_code == 202, answer.text
        state = wait_for(base, answer.json()["id"])
        assert state["state"] == "done", (body["kind"], state["error"])
        assert state["files"], body["kind"]
    assert video_facts(t / "steady.mp4")["audio"] == 1
    assert (t / "report" / "analysis.json").is_file()
    assert (t / "report" / "heatmap_00003.png").is_file()  # heatmap_frame counts from 1, as the CLI's flag
