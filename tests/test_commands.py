"""The CLI and the HTTP API run one plan per command: the same request is accepted, noted or refused alike."""

from __future__ import annotations

import argparse

import pytest
import requests
from api_support import uvicorn_thread, wait_for
from conftest import read_back

from abysz_lab import api, commands
from abysz_lab.cli import main
from abysz_lab.errors import InputError
from abysz_lab.jobqueue import JobQueue


def post(base: str, path: str, body: dict) -> requests.Response:
    return requests.post(f"{base}/abysz-lab/v1{path}", json=body, timeout=30)


@pytest.fixture(scope="module")
def base():
    queue = JobQueue()
    with uvicorn_thread(api.create_app(queue=queue)) as url:
        yield url
    queue.shutdown()


def _through_both(base, capsys, argv: list[str], body: dict) -> tuple[int, str, requests.Response]:
    """Run ``argv`` on the command line and submit ``body`` to the API; (exit code, stderr, answer)."""
    code = main(argv)
    err = capsys.readouterr().err
    return code, err, post(base, "/jobs", body)


def _refusals(source, generated, out):
    """case -> (argv, body, the field the API names) for requests that cannot run."""
    frames = ["--in", str(generated), "--out", str(out)]
    deflicker = {"kind": "deflicker", "in": str(generated), "out": str(out)}
    report = str(generated / "r")
    return {
        "dfi without out": (
            ["dfi", "--source", str(source), "--generated", str(generated)],
            {"kind": "dfi", "source": str(source), "generated": str(generated)},
            "out",
        ),
        "deflicker without a preset": (["deflicker", *frames], deflicker, "preset"),
        "an unknown preset": (["deflicker", *frames, "--preset", "nope"], deflicker | {"preset": "nope"}, "preset"),
        "deflicker without out": (
            ["deflicker", "--in", str(generated), "--preset", "blend"],
            {"kind": "deflicker", "in": str(generated), "preset": "blend"},
            "out",
        ),
        "an even window for a windowed preset": (
            ["deflicker", *frames, "--preset", "temporal-median", "--window", "4"],
            deflicker | {"preset": "temporal-median", "window": 4},
            "window",
        ),
        "a report inside an input folder": (
            ["analyze", "--source", str(source), "--generated", str(generated), "--report", report],
            {"kind": "analyze", "source": str(source), "generated": str(generated), "report": report},
            "report",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "dfi without out",
        "deflicker without a preset",
        "an unknown preset",
        "deflicker without out",
        "an even window for a windowed preset",
        "a report inside an input folder",
    ],
)
def test_a_request_the_cli_refuses_the_api_refuses_with_the_same_message(base, still_clip, tmp_path, capsys, case):
    source, generated = still_clip
    argv, body, field = _refusals(source, generated, tmp_path / "out")[case]
    code, err, answer = _through_both(base, capsys, argv, body)
    assert code == 2
    assert answer.status_code == 422, answer.text
    assert err.strip() == f"error: {answer.json()['detail']}"
    assert answer.json()["field"] == field
    assert not (tmp_path / "out").exists()
    assert not (generated / "r").exists()


@pytest.mark.parametrize(("preset", "field", "value"), [("blend", "window", 4), ("normalize", "window", 99)])
def test_a_control_the_preset_lacks_is_ignored_with_the_same_note_by_both(
    base, still_clip, tmp_path, capsys, preset, field, value
):
    """Not a 422 over HTTP and a note on the command line: both run, both say the value is ignored."""
    _, generated = still_clip
    argv = ["deflicker", "--in", str(generated), "--out", str(tmp_path / "cli"), "--preset", preset]
    body = {"kind": "deflicker", "in": str(generated), "out": str(tmp_path / "api"), "preset": preset}
    code, err, answer = _through_both(base, capsys, [*argv, f"--{field}", str(value)], body | {field: value})
    assert code == 0, err
    assert answer.status_code == 202, answer.text
    note = f"the {preset} preset has no {field} control; --{field} is ignored."
    assert f"note: {note}" in err.splitlines()
    assert answer.json()["notes"] == [note]
    state = wait_for(base, answer.json()["id"])
    assert state["state"] == "done", state["error"]
    assert state["notes"] == [note]
    written = sorted((tmp_path / "cli").glob("*.png"))
    assert len(written) == 8
    for frame in written:  # the value really is ignored: both give the preset's own result
        assert (read_back(frame) == read_back(tmp_path / "api" / frame.name)).all()


def test_a_plain_request_has_no_notes(base, still_clip, tmp_path):
    _, generated = still_clip
    body = {"kind": "deflicker", "in": str(generated), "out": str(tmp_path / "d"), "preset": "temporal-median"}
    answer = post(base, "/jobs", body | {"window": 5})
    assert answer.status_code == 202, answer.text
    assert answer.json()["notes"] == []
    wait_for(base, answer.json()["id"])


def test_every_job_kind_and_cli_command_has_one_plan():
    from abysz_lab.job_requests import KINDS

    assert set(KINDS) <= set(commands.PLANS)


def test_a_plan_checks_before_anything_is_written(still_clip, tmp_path):
    source, generated = still_clip
    ns = argparse.Namespace(
        source=str(source), generated=str(generated), out=None, frames_limit=0, overwrite=False, no_resume=False
    )
    with pytest.raises(InputError, match="dfi needs --out DIR"):
        commands.plan_dfi(ns)
    ns.out = str(tmp_path / "o")
    plan = commands.plan_dfi(ns)
    assert plan.writes == (tmp_path / "o", tmp_path / "o_work")
    assert not (tmp_path / "o").exists()
