"""A real dataset job stopped with Ctrl-C (SIGINT), then killed with SIGKILL at a random moment, then finished:
every item done exactly once, nothing partial, the same bytes as an uninterrupted run."""
import random
import signal
import subprocess
import sys
import time

import numpy as np

from headless.dataset import JobSpec, run_job
from testkit.dataset_helpers import REPO, done_count, manifest_rows, one_thread, output_files, write_digits

ARGS = ["--t-boom", "16", "--batch", "2", "--seed", "11", "--threads", "1", "--no-progress", "--cpu"]


def _start(src, out, log):
    return subprocess.Popen([sys.executable, "-m", "headless", "dataset", str(src), str(out), *ARGS], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"))


def _wait_done(proc, out, at_least, timeout=600):
    end = time.monotonic() + timeout
    while done_count(out) < at_least:
        assert proc.poll() is None, f"the job ended (rc {proc.returncode}) before {at_least} items were done"
        assert time.monotonic() < end, "the job made no progress"
        time.sleep(0.05)


def test_sigint_then_sigkill_then_resume_is_exactly_once(comfy, tmp_path):
    src, out, ref = tmp_path / "in", tmp_path / "out", tmp_path / "reference"
    rels = write_digits(src, 14, offset=100)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)

    first = _start(src, out, tmp_path / "run1.log")
    _wait_done(first, out, 2)
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=300) == 130
    log1 = (tmp_path / "run1.log").read_text()
    assert "stopping after the current batch" in log1 and "interrupted; run the same command again" in log1
    rows = manifest_rows(out)
    done1 = sorted(k[0] for k, r in rows.items() if r["state"] == "done")
    assert 2 <= len(done1) < 14 and len(done1) % 2 == 0, done1  # whole batches of 2: it stopped after one
    assert sorted(output_files(out)) == done1  # no partial or temporary file

    second = _start(src, out, tmp_path / "run2.log")
    _wait_done(second, out, len(done1) + 1)
    time.sleep(rng.uniform(0.0, 0.5))  # a random moment of the running job
    assert second.poll() is None, "the job finished before it could be killed"
    second.send_signal(signal.SIGKILL)
    assert second.wait(timeout=60) == -signal.SIGKILL
    done2 = done_count(out)

    third = _start(src, out, tmp_path / "run3.log")
    assert third.wait(timeout=600) == 0, (tmp_path / "run3.log").read_text()[-3000:]
    log3 = (tmp_path / "run3.log").read_text()
    assert f"14 item(s): {14 - done2} made now, {done2} already done, 0 failed" in log3, (seed, log3[-2000:])

    rows = manifest_rows(out)
    assert sorted(k[0] for k in rows) == rels
    assert all(r["state"] == "done" and r["attempts"] == 1 for r in rows.values()), (seed, rows)
    files = output_files(out)
    assert sorted(files) == rels, (seed, sorted(files))  # nothing missing, nothing extra, no temporary file
    with one_thread():
        run_job(JobSpec(preset="anonymize", t_boom=16, seed=11, batch=5), src, ref, runtime=comfy, progress=False)
    expected = output_files(ref)
    assert all(np.array_equal(files[r], expected[r]) for r in rels), seed
