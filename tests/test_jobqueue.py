"""The job queue: order on shared folders, a second worker only for other folders, refusals, cancel."""

from __future__ import annotations

import threading

import pytest

from abysz_lab.errors import Cancelled, InputError
from abysz_lab.jobqueue import JobConflictError, JobQueue
from abysz_lab.jobs import Progress


@pytest.fixture
def queue():
    jobs = JobQueue(workers=2)
    yield jobs
    jobs.shutdown()


def blocking_job(started: list, release: threading.Event, name: str):
    def run(job):
        started.append(name)
        job.report("Work", Progress(1, 2))
        assert release.wait(10)
        return {"files": [name]}

    return run


def test_jobs_on_the_same_folder_run_one_after_the_other_in_order(queue, tmp_path):
    started, release = [], threading.Event()
    first = queue.submit("a", blocking_job(started, release, "a"), writes=[tmp_path / "o1"], reads=[tmp_path / "in"])
    second = queue.submit("b", blocking_job(started, release, "b"), writes=[tmp_path / "o2"], reads=[tmp_path / "in"])
    assert not second.wait(0.3)
    assert started == ["a"]  # b reads the folder a is busy with: it waits although a worker is free
    assert queue.ahead_of(second) == 1
    release.set()
    assert first.wait(10) and second.wait(10)
    assert started == ["a", "b"]
    assert second.as_dict()["files"] == ["b"]


def test_a_second_worker_takes_a_job_on_other_folders(queue, tmp_path):
    started, release = [], threading.Event()
    queue.submit("a", blocking_job(started, release, "a"), writes=[tmp_path / "o1"], reads=[tmp_path / "in1"])
    other = queue.submit("b", blocking_job(started, release, "b"), writes=[tmp_path / "o2"], reads=[tmp_path / "in2"])
    for _ in range(100):
        if other.state == "running":
            break
        other.wait(0.05)
    assert other.state == "running"
    release.set()


def test_a_job_into_a_folder_a_queued_job_writes_is_refused_naming_it(queue, tmp_path):
    release = threading.Event()
    first = queue.submit("dfi", blocking_job([], release, "a"), writes=[tmp_path / "out"])
    with pytest.raises(JobConflictError, match=first.id):
        queue.submit("dfi", blocking_job([], release, "b"), writes=[tmp_path / "out" / "sub"])
    release.set()


def test_cancel_a_queued_job_at_once_and_a_running_one_between_frames(queue, tmp_path):
    def cancellable(job):
        while not job.cancel.cancelled:
            job.cancel._event.wait(0.01)  # noqa: SLF001 - a stand-in for a frame loop
        raise Cancelled("Cancelled after 1 of 2 frames.")

    running = queue.submit("a", cancellable, writes=[tmp_path / "a"], reads=[tmp_path / "in"])
    waiting = queue.submit("b", cancellable, writes=[tmp_path / "b"], reads=[tmp_path / "in"])
    for _ in range(200):
        if running.state == "running":
            break
        running.wait(0.02)
    queue.cancel(waiting.id)
    assert waiting.state == "cancelled" and "nothing was written" in waiting.message
    queue.cancel(running.id)
    assert running.wait(10)
    assert running.state == "cancelled" and "Cancelled after" in running.message


def test_a_failing_job_is_failed_with_its_message_and_the_worker_goes_on(queue, tmp_path):
    def bad(job):
        raise InputError("The source folder does not exist.")

    failed = queue.submit("a", bad, writes=[tmp_path / "a"])
    assert failed.wait(10)
    assert (failed.state, failed.error) == ("failed", "The source folder does not exist.")
    fine = queue.submit("b", lambda job: {}, writes=[tmp_path / "b"])
    assert fine.wait(10) and fine.state == "done"


def test_a_finished_job_no_longer_holds_what_its_function_captured(queue, tmp_path):
    """Remembered jobs must not keep frames or results alive: the server's memory goes back to idle."""
    import gc
    import weakref

    import numpy as np

    class Frames:
        def __init__(self):
            self.data = np.zeros((256, 256, 3), np.uint8)

    frames = Frames()
    alive = weakref.ref(frames)
    job = queue.submit("a", lambda job, held=frames: {"shape": list(held.data.shape)}, writes=[tmp_path / "a"])
    del frames
    assert job.wait(10)
    gc.collect()
    assert alive() is None
    assert job.result == {"shape": [256, 256, 3]}
