"""The HTTP API under load: 20 small DFI jobs submitted at once to `python -m abysz_lab api`.

Checks and prints: every job completes; jobs on the same folders finish in
submission order; every output folder holds exactly its frames, byte-equal to
an in-process ``run_dfi`` of the same job (nothing lost or duplicated); and the
server's resident memory (read from /proc, Linux) before, at its peak and
after the burst. The baseline for time is the same 20 jobs run one after the
other in this process with ``run_dfi``.

    python benchmarks/bench_api.py [--jobs 20] [--frames 12]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from abysz_lab.demo import make_demo_clip  # noqa: E402
from abysz_lab.dfi import DFIParams, run_dfi  # noqa: E402

V1 = "/abysz-lab/v1"


def free_port() -> int:
    """A localhost port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_all(base: str, ids: list[str], timeout: float = 600) -> list[dict]:
    """Poll until every job finished; return their last states."""
    deadline = time.monotonic() + timeout
    while True:
        # One GET /jobs per poll, as a client watching a batch would: polling each job would load the server.
        listed = {j["id"]: j for j in requests.get(f"{base}{V1}/jobs", timeout=30).json()["jobs"]}
        states = [listed[i] for i in ids]
        if all(s["state"] in ("done", "failed", "cancelled") for s in states):
            return states
        if time.monotonic() > deadline:
            raise TimeoutError("jobs did not finish")
        time.sleep(0.25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--frames", type=int, default=12)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_api_"))
    clip = make_demo_clip(work / "clip", frames=args.frames, width=192, height=128)
    tolerances = [2 + (n % 8) for n in range(args.jobs)]

    run_dfi(clip.source, clip.generated, work / "warm", DFIParams())  # first-call costs, as the server's warm-up
    start = time.perf_counter()
    for n, tolerance in enumerate(tolerances):
        run_dfi(clip.source, clip.generated, work / "direct" / f"job{n:02d}", DFIParams(tolerance=tolerance))
    baseline_s = time.perf_counter() - start

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "abysz_lab", "api", "--port", str(port)]
    server = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}{V1}/version", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the API server did not start") from None
                time.sleep(0.2)
        # Warm up (imports, first OpenCV call) so "idle" is the server's resting size, not its size at birth.
        warm = requests.post(
            f"{base}{V1}/jobs",
            json={"kind": "dfi", "source": str(clip.source), "generated": str(clip.generated), "out": str(work / "w")},
            timeout=30,
        ).json()["id"]
        wait_all(base, [warm])
        idle = rss_mib(server.pid)

        peak = idle
        sampling = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not sampling.is_set():
                peak = max(peak, rss_mib(server.pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        ids = []
        for n, tolerance in enumerate(tolerances):
            body = {"kind": "dfi", "source": str(clip.source), "generated": str(clip.generated)}
            body |= {"out": str(work / "api" / f"job{n:02d}"), "tolerance": tolerance}
            answer = requests.post(f"{base}{V1}/jobs", json=body, timeout=30)
            answer.raise_for_status()
            ids.append(answer.json()["id"])
        submit_s = time.perf_counter() - start
        states = wait_all(base, ids)
        api_s = max(s["finished"] for s in states) - min(s["submitted"] for s in states)
        sampling.set()
        sampler.join()
        time.sleep(1.0)
        after = rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(15)

    done = sum(s["state"] == "done" for s in states)
    finished = [s["finished"] for s in states]
    in_order = finished == sorted(finished)
    mismatched, counts = 0, []
    for n in range(args.jobs):
        api_files = sorted((work / "api" / f"job{n:02d}").glob("*.png"))
        direct_files = sorted((work / "direct" / f"job{n:02d}").glob("*.png"))
        counts.append(len(api_files))
        mismatched += sum(a.read_bytes() != d.read_bytes() for a, d in zip(api_files, direct_files, strict=False))
    print(f"jobs: {args.jobs} submitted at once, {done} done, finished in submission order: {in_order}")
    print(f"frames per output folder: min {min(counts)}, max {max(counts)} (expected {args.frames}); ", end="")
    print(f"frames differing from an in-process run_dfi: {mismatched}")
    print(f"time: API {api_s:.2f} s from first submission to last finish (submitting took {submit_s:.2f} s) ", end="")
    print(f"vs in-process baseline {baseline_s:.2f} s (ratio {api_s / baseline_s:.2f})")
    print(f"server memory (RSS): idle {idle:.0f} MiB, peak {peak:.0f} MiB, after {after:.0f} MiB ", end="")
    print(f"(after / idle = {after / idle:.2f})")
    ok = done == args.jobs and in_order and mismatched == 0 and set(counts) == {args.frames}
    print("RESULT:", "ok" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
