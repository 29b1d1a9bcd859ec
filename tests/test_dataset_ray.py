"""Dataset jobs on a real local Ray cluster (CPU, loopback only): 2 workers give the single-process bytes, and a
worker killed with SIGKILL mid-run loses nothing."""
import os
import signal

import numpy as np
import pytest

from headless.dataset import JobSpec, run_job
from testkit.dataset_helpers import manifest_rows, one_thread, output_files, write_digits

ray = pytest.importorskip("ray", reason="Ray is optional for the pack; devtools/setup_env.py installs it for the tests")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, object_store_memory=200 * 1024 * 1024, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def test_two_ray_workers_match_one_process_and_survive_a_killed_worker(comfy, cluster, tmp_path):
    src = tmp_path / "in"
    rels = write_digits(src, 8, offset=200)
    spec = JobSpec(preset="augment", copies=2, t_boom=12, batch=2, seed=5, threads=1)
    with one_thread():
        single = run_job(spec, src, tmp_path / "single", runtime=comfy, progress=False)
    assert single.done_now == 16
    killed = []

    def kill_a_busy_worker(result, executor):
        if not killed and executor.inflight:
            index = next(iter(executor.inflight.values()))[0]
            killed.append((index, executor.pids[index], result.done_now))
            os.kill(executor.pids[index], signal.SIGKILL)  # the actor's process, mid-batch

    out = tmp_path / "ray"
    result = run_job(spec, src, out, ray=True, workers=2, progress=False, on_commit=kill_a_busy_worker, device="cpu")
    assert killed and killed[0][2] < 16, killed
    assert result.batches_lost >= 1 and (result.done_now, result.failed, result.exit_code) == (16, [], 0)
    rows = manifest_rows(out)
    assert len(rows) == 16 and all(r["state"] == "done" and r["attempts"] == 1 for r in rows.values())
    expected, files = output_files(tmp_path / "single"), output_files(out)
    assert sorted(files) == sorted(expected) == sorted(f"{r[:-4]}_c{c:02d}.png" for r in rels for c in range(2))
    assert all(np.array_equal(files[name], expected[name]) for name in expected)
