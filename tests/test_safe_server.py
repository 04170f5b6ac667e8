"""The standalone UI shared on a network, attacked the way issue 11 did it, over real HTTP on 127.0.0.1.

A live ``python -m abysz_lab ui`` subprocess (gradio 3.41 in the A1111 venv, 4.40 in Forge's); DFI is
called the way gradio_client calls any event (``/info`` lists them even with ``show_api=False``), and
the raw requests (``Origin: null``, a foreign Host, ``/file=``) are sent as a browser or an attacker would.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from ui_support import REPO, free_port, needs_gradio, serving, small_clip

pytestmark = [pytest.mark.ui, needs_gradio]


def request(url: str, *, method: str = "GET", headers: dict | None = None, body: bytes | None = None):
    """(status, body text) of one HTTP request; HTTP errors are answers too."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def login_header(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def dfi_call(url: str, **values: str) -> tuple[int, list]:
    """fn_index and data of the "Run DFI" event from /config: inputs at their defaults, some set by elem_id."""
    status, text = request(url + "config")
    assert status == 200, text
    config = json.loads(text)
    components = {c["id"]: c for c in config["components"]}
    run_id = next(i for i, c in components.items() if c.get("props", {}).get("elem_id") == "abysz_dfi_run")
    fn_index, dep = next(
        (i, d)
        for i, d in enumerate(config["dependencies"])
        if run_id in [t[0] if isinstance(t, list) else t for t in d["targets"]]
    )
    data = []
    for input_id in dep["inputs"]:
        props = components[input_id].get("props", {})
        elem = props.get("elem_id", "").removeprefix("abysz_dfi_")
        data.append(values.get(elem, props.get("value")))
    return fn_index, data


def run_dfi_through_api(url: str, auth=None, **values: str) -> str:
    """Call Run DFI like gradio_client does; return the status HTML it answered."""
    from gradio_client import Client

    fn_index, data = dfi_call(url, **values)
    import inspect

    options = {"verbose": False, "auth": auth}
    if "serialize" in inspect.signature(Client).parameters:
        options["serialize"] = False  # gradio_client 0.5 cannot deserialize gr.update() in image outputs
    client = Client(url, **{k: v for k, v in options.items() if v is not None})
    try:
        result = client.predict(*data, fn_index=fn_index)
    finally:
        with contextlib.suppress(Exception):
            client.close()
    return result[0] if isinstance(result, (list, tuple)) else result


@pytest.fixture(scope="module")
def listening(tmp_path_factory):
    """``ui --listen`` without --allowed-root, started in ``root`` (the default allowed folder)."""
    base = tmp_path_factory.mktemp("listen")
    root, temp = base / "root", base / "tmp"
    root.mkdir()
    temp.mkdir()
    clip = small_clip(root / "clip", frames=4)
    port = free_port()
    command = [sys.executable, "-m", "abysz_lab", "ui", "--port", str(port), "--listen"]
    url = f"http://127.0.0.1:{port}/"
    with serving(command, base / "server.log", url, cwd=root, env={"TMPDIR": str(temp)}) as proc:
        yield url, root, clip, base, proc


def test_listen_without_auth_warns_at_start(listening):
    *_, base, _ = listening
    log = (base / "server.log").read_text()
    assert "WARNING: the UI listens on the network (--listen) without a login" in log
    assert "Folders are confined" in log


def test_a_dfi_call_inside_the_allowed_folder_works(listening):
    """The control: the same call the refusals below make does run and write frames."""
    url, root, clip, *_ = listening
    status = run_dfi_through_api(url, source=str(clip.source), generated=str(clip.generated), output=str(root / "ok"))
    assert "Refused" not in status
    assert len(list((root / "ok").glob("*.png"))) == 4


@pytest.mark.parametrize("target", ["/etc", "outside"])
def test_a_dfi_call_writing_outside_the_allowed_folder_is_refused(listening, tmp_path, target):
    url, root, clip, *_ = listening
    out = Path("/etc") if target == "/etc" else tmp_path / "out"
    before = sorted(os.listdir(out.parent)), sorted(os.listdir("/etc"))
    status = run_dfi_through_api(url, source=str(clip.source), generated=str(clip.generated), output=str(out))
    assert "Refused" in status
    assert str(root) in status  # names the allowed folder
    assert (sorted(os.listdir(out.parent)), sorted(os.listdir("/etc"))) == before
    if target == "outside":
        assert not out.exists()


def test_a_dfi_call_reading_outside_the_allowed_folder_is_refused(listening, tmp_path):
    url, root, clip, *_ = listening
    status = run_dfi_through_api(url, source="/etc", generated=str(clip.generated), output=str(root / "x"))
    assert "Refused" in status
    assert not (root / "x").exists()


def test_origin_null_cannot_queue_a_job(listening):
    """What a sandboxed iframe on any web page sends; the job must not run."""
    import gradio

    url, root, clip, *_ = listening
    fn_index, data = dfi_call(url, source=str(clip.source), generated=str(clip.generated), output=str(root / "null"))
    payload = json.dumps({"data": data, "fn_index": fn_index, "session_hash": "attack", "event_data": None})
    host = url.split("/")[2]
    status, text = request(
        url + "queue/join",
        method="POST",
        headers={"Origin": "null", "Content-Type": "application/json", "Host": host},
        body=payload.encode(),
    )
    assert status == 403, text
    if gradio.__version__.startswith("3."):  # gradio 3.41 queues over a websocket: its handshake is refused
        from websockets.exceptions import InvalidHandshake
        from websockets.sync.client import connect

        socket_url = url.replace("http", "ws") + "queue/join"
        with pytest.raises(InvalidHandshake, match="403"), connect(socket_url, origin="null"):
            pass
    time.sleep(2)
    assert not (root / "null").exists()


@pytest.mark.parametrize("path", ["", "config", "info", "queue/join"])
def test_a_foreign_host_is_refused(listening, path):
    """DNS rebinding: the attacker's name resolves to this server; the browser sends his Host and Origin."""
    url, *_ = listening
    port = url.rsplit(":", 1)[1].strip("/")
    status, text = request(
        url + path, headers={"Host": f"rebind.example:{port}", "Origin": f"http://rebind.example:{port}"}
    )
    assert status == 403
    assert "does not name this server" in text


def test_a_foreign_origin_with_our_host_is_refused(listening):
    url, *_ = listening
    status, text = request(url + "config", headers={"Origin": "https://evil.example"})
    assert status == 403
    assert "cross-site" in text


def test_files_outside_the_served_ones_stay_403(listening):
    url, *_ = listening
    for path in ("file=/etc/passwd", "file=/etc/hostname"):
        status, _ = request(url + path)
        assert status == 403, path


def test_sigterm_removes_the_temporary_folder(listening):
    """Runs last in this module: stops the shared server. The DFI call above served a comparison video."""
    url, root, clip, base, proc = listening
    run_dfi_through_api(url, source=str(clip.source), generated=str(clip.generated), output=str(root / "again"))
    temp = base / "tmp"
    assert [p for p in temp.iterdir() if p.name.startswith("abysz_lab_")]  # the served comparison's folder
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert not [p for p in temp.iterdir() if p.name.startswith("abysz_lab_")]


@pytest.fixture(scope="module")
def with_auth(tmp_path_factory):
    base = tmp_path_factory.mktemp("auth")
    users = base / "users.txt"
    users.write_text("# the team\nbob:builder\n")
    port = free_port()
    command = [sys.executable, "-m", "abysz_lab", "ui", "--port", str(port), "--auth", "alice:wonder"]
    command += ["--auth-file", str(users), "--api"]
    url = f"http://127.0.0.1:{port}/"
    with serving(command, base / "server.log", url + "config", ready_status=401, cwd=base):
        yield url, base


@pytest.mark.parametrize("path", ["config", "info"])
def test_without_credentials_the_api_answers_401(with_auth, path):
    url, _ = with_auth
    status, _ = request(url + path)
    assert status == 401


def test_the_api_beside_the_ui_asks_for_the_same_login(with_auth):
    url, _ = with_auth
    deadline = time.monotonic() + 30  # gradio answers before the API's routes are added to its app
    while request(url + "abysz-lab/v1/version")[0] == 404 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert request(url + "abysz-lab/v1/version")[0] == 401
    assert request(url + "abysz-lab/v1/version", headers=login_header("bob", "builder"))[0] == 200
    assert request(url + "abysz-lab/v1/version", headers=login_header("bob", "nope"))[0] == 401


def test_a_login_from_the_file_or_the_flag_opens_it(with_auth):
    url, base = with_auth
    for user, password in (("alice", "wonder"), ("bob", "builder")):
        body = f"username={user}&password={password}".encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _ = request(url + "login", method="POST", headers=headers, body=body)
        assert status == 200, user
    status, _ = request(url + "login", method="POST", headers=headers, body=b"username=alice&password=nope")
    assert status in (400, 401)
    assert "WARNING" not in (base / "server.log").read_text()  # local, with a login: nothing to warn about


def _ui(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "abysz_lab", "ui", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO, check=False)


def test_an_impossible_port_is_one_line_and_exit_2():
    done = _ui("--port", "70000")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: --port must be between 1 and 65535, got 70000."]


def test_a_port_in_use_is_one_line_and_exit_2():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _ui("--port", str(port), timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"error: Port {port} is already in use" in done.stderr.strip().splitlines()[-1]


def test_a_bad_auth_value_is_one_line_and_exit_2():
    done = _ui("--auth", "alice")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "USER:PASSWORD" in done.stderr


def test_the_api_command_takes_the_same_access_flags(tmp_path):
    """`api --listen --allowed-root R --auth-file F`: warns nothing (it has a login), 401 without it, /etc refused."""
    root = tmp_path / "root"
    root.mkdir()
    users = tmp_path / "users.txt"
    users.write_text("carol:pw\n")
    port = free_port()
    command = [sys.executable, "-m", "abysz_lab", "api", "--port", str(port), "--listen"]
    command += ["--allowed-root", str(root), "--auth-file", str(users)]
    base = f"http://127.0.0.1:{port}/abysz-lab/v1/"
    with serving(command, tmp_path / "api.log", base + "version", ready_status=401, cwd=tmp_path):
        job = {"kind": "dfi", "source": str(root), "generated": str(root), "out": "/etc"}
        body = json.dumps(job).encode()
        headers = {"Content-Type": "application/json"}
        assert request(base + "jobs", method="POST", headers=headers, body=body)[0] == 401
        status, text = request(base + "jobs", method="POST", headers=headers | login_header("carol", "pw"), body=body)
        assert status == 403
        assert "outside the folders this server may use" in text
        status, _ = request(base + "version", headers={"Host": "rebind.example"} | login_header("carol", "pw"))
        assert status == 403
    log = (tmp_path / "api.log").read_text()
    assert f"Folders are confined because --allowed-root was given to: {root.resolve()}" in log
    assert "WARNING" not in log
