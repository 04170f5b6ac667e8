"""access.py: credentials, allowed roots, Host/Origin rules and the ASGI guard (no server needed here)."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from abysz_lab.access import (
    AccessPolicy,
    Credentials,
    HostRules,
    RequestGuard,
    load_credentials,
    policy_for_server,
    policy_for_webui,
    split_roots,
    webui_exposure,
)
from abysz_lab.errors import InputError


def test_credentials_accept_only_the_given_pair():
    creds = Credentials.parse("alice:s3cr:et")
    assert creds.check("alice", "s3cr:et")  # the password may hold colons
    assert not creds.check("alice", "s3cr")
    assert not creds.check("bob", "s3cr:et")


@pytest.mark.parametrize("bad", ["alice", ":pw", "alice:", ""])
def test_credentials_refuse_malformed_values(bad):
    with pytest.raises(InputError, match="USER:PASSWORD"):
        Credentials.parse(bad)


def test_credentials_file_skips_comments_and_names_the_bad_line(tmp_path):
    good = tmp_path / "users.txt"
    good.write_text("# team\nalice:one\n\nbob:two\n")
    creds = load_credentials(["carol:three"], [good])
    assert [u for u, _ in creds.pairs] == ["carol", "alice", "bob"]
    assert creds.check("bob", "two")
    bad = tmp_path / "bad.txt"
    bad.write_text("alice:one\nnocolon\n")
    with pytest.raises(InputError, match="bad.txt line 2"):
        Credentials.from_file(bad)
    assert load_credentials() is None


def test_basic_header_is_checked():
    creds = Credentials.parse("alice:pw")
    header = "Basic " + base64.b64encode(b"alice:pw").decode()
    assert creds.check_basic_header(header)
    assert not creds.check_basic_header("Basic " + base64.b64encode(b"alice:no").decode())
    assert not creds.check_basic_header("Basic !!!")
    assert not creds.check_basic_header(None)


def test_unrestricted_policy_returns_the_path_as_typed(tmp_path):
    assert AccessPolicy().check_path(tmp_path / "x", "the output") == tmp_path / "x"


def test_policy_allows_inside_and_refuses_outside_naming_the_roots(tmp_path):
    root = tmp_path / "root"
    (root / "in").mkdir(parents=True)
    policy = AccessPolicy((root,), reason="testing")
    assert policy.check_path(root / "in" / "new", "the output") == (root / "in" / "new").resolve()
    with pytest.raises(InputError, match=rf"Refused: the output .* outside .*{root}"):
        policy.check_path("/etc", "the output")
    with pytest.raises(InputError, match="outside"):
        policy.check_path(root / ".." / "elsewhere", "the output")  # '..' escapes
    (root / "link").symlink_to("/etc")
    with pytest.raises(InputError, match="outside"):
        policy.check_path(root / "link" / "x", "the output")  # a symlink escapes


def test_server_policy_defaults(tmp_path):
    assert policy_for_server("127.0.0.1").unrestricted
    assert policy_for_server("0.0.0.0", cwd=str(tmp_path)).roots == (tmp_path.resolve(),)
    assert policy_for_server("127.0.0.1", [tmp_path]).roots == (tmp_path.resolve(),)
    with pytest.raises(InputError, match="not an existing folder"):
        policy_for_server("0.0.0.0", [tmp_path / "missing"])


@pytest.mark.parametrize(
    ("flags", "confined"),
    [
        ({}, False),
        ({"server_name": "127.0.0.1"}, False),
        ({"listen": True}, True),
        ({"share": True}, True),
        ({"hide_ui_dir_config": True}, True),
        ({"server_name": "0.0.0.0"}, True),
    ],
)
def test_webui_policy_follows_its_flags(tmp_path, flags, confined):
    opts = SimpleNamespace(
        **{"listen": False, "share": False, "hide_ui_dir_config": False, "server_name": None, **flags}
    )
    policy = policy_for_webui(opts, "", tmp_path)
    assert (not policy.unrestricted) == confined
    assert bool(webui_exposure(opts)) == confined
    if confined:
        assert policy.roots == (tmp_path.resolve(),)


def test_webui_roots_setting_drops_missing_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    opts = SimpleNamespace(listen=True)
    assert split_roots(f"{a}\n\n{b}{os.pathsep}{a}") == [str(a), str(b), str(a)]
    assert policy_for_webui(opts, f"{a}\n{b}", tmp_path / "outputs").roots == (a.resolve(),)
    assert policy_for_webui(opts, str(b), tmp_path / "outputs").roots == (tmp_path.resolve() / "outputs",)


@pytest.mark.parametrize(
    ("host", "origin", "refused"),
    [
        ("127.0.0.1:7860", None, False),
        ("127.0.0.1:7860", "http://127.0.0.1:7860", False),
        ("localhost:7860", "http://127.0.0.1:7860", False),
        ("127.0.0.1:7860", "null", True),
        ("127.0.0.1:7860", "http://evil.example:7860", True),
        ("127.0.0.1:7860", "http://127.0.0.1:9999", True),
        ("evil.example:7860", "http://evil.example:7860", True),  # DNS rebinding
        ("192.168.1.5:7860", None, True),  # a loopback server is not reached by a LAN address
        (None, None, True),
    ],
)
def test_loopback_rules(host, origin, refused):
    headers = {k: v for k, v in (("host", host), ("origin", origin)) if v is not None}
    assert bool(HostRules.for_bind("127.0.0.1").refusal(headers)) == refused


def test_network_rules_accept_addresses_and_extra_names_only():
    rules = HostRules.for_bind("0.0.0.0", extra_hosts=["lab.example.com"])
    assert not rules.refusal({"host": "192.168.1.5:7860", "origin": "http://192.168.1.5:7860"})
    assert not rules.refusal({"host": "lab.example.com", "origin": "https://lab.example.com"})
    assert rules.refusal({"host": "evil.example:7860"})
    assert rules.refusal({"host": "192.168.1.5:7860", "origin": "http://10.0.0.9:7860"})


def _call(guard, path="/x", headers=(), kind="http"):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {"type": kind, "path": path, "headers": [(k.encode(), v.encode()) for k, v in headers]}
    # A loop of our own, never made the thread's current one: asyncio.run() would leave the main thread with
    # no current event loop (set_event_loop(None)), and gradio 4 then builds any later queue in this process
    # with no locks (gradio.utils.safe_get_lock() returns None), so every click on a UI served later fails.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(guard(scope, receive, send))
    finally:
        loop.close()
    return sent


async def _app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ran"})


def test_guard_passes_own_requests_and_refuses_others():
    guard = RequestGuard(_app, rules=HostRules.for_bind("127.0.0.1"))
    assert _call(guard, headers=[("host", "127.0.0.1:1")])[0]["status"] == 200
    refused = _call(guard, headers=[("host", "127.0.0.1:1"), ("origin", "null")])
    assert refused[0]["status"] == 403
    assert b"cross-site" in refused[1]["body"]
    closed = _call(guard, headers=[("host", "evil.example")], kind="websocket")
    assert closed == [{"type": "websocket.close", "code": 1008}]


def test_calling_the_guard_leaves_the_threads_event_loop_alone():
    """Tests later in this process (a gradio 4 UI queue built in this thread) need the thread's event loop."""
    before = asyncio.get_event_loop()
    _call(RequestGuard(_app, rules=HostRules.for_bind("127.0.0.1")), headers=[("host", "127.0.0.1:1")])
    assert asyncio.get_event_loop() is before


def test_guard_asks_for_basic_auth_on_its_paths_only():
    creds = Credentials.parse("alice:pw")
    guard = RequestGuard(_app, rules=HostRules.for_bind("127.0.0.1"), credentials=creds, basic_auth_paths=("/api",))
    host = ("host", "127.0.0.1:1")
    assert _call(guard, "/other", [host])[0]["status"] == 200
    denied = _call(guard, "/api/run", [host])[0]
    assert denied["status"] == 401
    assert (b"www-authenticate", b'Basic realm="Abysz LAB"') in denied["headers"]
    login = ("authorization", "Basic " + base64.b64encode(b"alice:pw").decode())
    assert _call(guard, "/api/run", [host, login])[0]["status"] == 200


def test_policy_paths_are_resolved_against_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    policy = AccessPolicy((Path("."),))
    assert policy.roots == (tmp_path.resolve(),)
    assert policy.check_path("sub", "x") == tmp_path.resolve() / "sub"


def test_webui_host_rules_follow_its_flags():
    from abysz_lab.access import webui_host_rules

    local = webui_host_rules(SimpleNamespace(listen=False, share=False, server_name=None))
    assert local.refusal({"host": "192.168.1.5:7860"})
    listening = webui_host_rules(SimpleNamespace(listen=True, share=False, server_name=None))
    assert not listening.refusal({"host": "192.168.1.5:7860"})
    shared = webui_host_rules(SimpleNamespace(listen=False, share=True, server_name=None))
    assert not shared.refusal({"host": "abc123.gradio.live", "origin": "https://abc123.gradio.live"})
    assert shared.refusal({"host": "gradio.live.evil.example"})
