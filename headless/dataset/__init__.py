"""Dataset jobs: a Boomerang graph over every image of a folder, resumable, on one machine or a Ray cluster.

    from headless.dataset import JobSpec, run_job
    result = run_job(JobSpec(preset="augment", copies=4, t_boom=300), "photos/", "augmented/")
    print(result.done_now, result.failed)   # (rel, copy, reason) of every failed item

``python -m headless dataset --help`` is the command line; see the README's "Dataset jobs".
"""
from .items import discover, item_seed, output_path
from .run import JobResult, run_job
from .spec import PRESETS, JobSpec

__all__ = ["JobResult", "JobSpec", "PRESETS", "discover", "item_seed", "output_path", "run_job"]
