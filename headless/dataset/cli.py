"""``python -m headless dataset INPUT OUTPUT [options]``: the command line of the dataset jobs."""
from __future__ import annotations

import argparse
import logging
import sys

from boomerang.advice import RECOMMENDED

from ..device import add_device_arguments, check_device, device_from_args
from .spec import PRESETS, JobSpec

log = logging.getLogger("boomerang.dataset")

EPILOG = """examples:
  python -m headless dataset photos/ anonymized/ --preset anonymize --t-boom 500
  python -m headless dataset photos/ augmented/ --preset augment --copies 4 --checkpoint ~/models/sd15.safetensors
  python -m headless dataset small/ large/ --preset upscale --factor 4
  python -m headless dataset photos/ out/ --workflow my_boomerang_api.json --ray auto
  python -m headless dataset photos/ out/ --cpu     # the CPU even where ComfyUI would pick a GPU
Re-running the same command resumes: done items are skipped, changed inputs or settings are redone.

guarantees:
  inputs are never modified: before any work every input's real path is resolved, and the job is refused
    (exit 2) if a file it writes would be an input or the list file, if OUTPUT is a file, or if an output path
    holds a file no job of this folder made
  one item per input file: a list file's lines are resolved (.. and symlinks) and keyed relative to the list
    file's folder (or --root); a folder's symlinked sub-folders are followed; two inputs that would share an
    output path are refused before the job starts, naming both
  one job per output folder: a second job on the same OUTPUT is refused with the running job's pid, host and
    start time; a killed job (even by SIGKILL) does not block its resume
  any image size: images are padded (mirrored edges) to the model's multiple and cropped back, so every output
    has its input's size (upscale: factor x the size)
  no silent garbage: NaN/inf from the model or the VAE fails the item with the stage, the dtype and the fix
  failures are one line in the summary and the manifest; full errors go to OUTPUT/boomerang-errors.log;
    temporary folders are removed at the end of every run (those of a killed run by the next run)
exit status: 0 all done, 1 some items failed, 2 refused (bad setting or an unsafe input/output), 3 missing
  package, 130 interrupted"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m headless dataset", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Run a Boomerang graph over every image of a folder (recursive; png, jpg, "
                                            "jpeg, webp) or of a list file; resumable; optionally on Ray.")
    p.add_argument("input", help="folder of images, or a text file with one image path a line")
    p.add_argument("output", help="output folder (mirrors the input's relative paths, as PNG; holds the manifest); "
                                  "must not hold any input")
    p.add_argument("--root", help="list files only: the folder the inputs' relative paths (and so the output "
                                  "paths and seeds) are taken from (default: the list file's folder); every "
                                  "input must be inside it")
    job = p.add_mutually_exclusive_group()
    job.add_argument("--preset", default="anonymize", help=f"one of {', '.join(PRESETS)} (default anonymize)")
    job.add_argument("--workflow", help="an API-format (or UI-format) workflow with exactly one LoadImage and one "
                                        "SaveImage; its seed inputs are set per item")
    p.add_argument("--checkpoint", help="SD-style .safetensors checkpoint or diffusers pixel-model folder "
                                        "(default: the built-in digits DDPM)")
    p.add_argument("--prompt", default="", help="positive prompt (checkpoints with a text encoder)")
    p.add_argument("--t-boom", type=int, help="start level in the model's timesteps (default: anonymize 500, "
                                              "augment 300, upscale 0 = automatic from the factor)")
    p.add_argument("--sampler", help="boomerang_exact (default for pixel models) or a ComfyUI sampler "
                                     f"(default {RECOMMENDED.sampler} for checkpoints)")
    p.add_argument("--scheduler", default=RECOMMENDED.scheduler,
                   help=f"fast-path scheduler (default {RECOMMENDED.scheduler})")
    p.add_argument("--steps", type=int, help=f"fast-path steps (default min({RECOMMENDED.steps}, t_boom))")
    p.add_argument("--cfg", type=float, help="guidance scale (default 1 for pixel models, 7.5 for checkpoints)")
    p.add_argument("--copies", type=int, default=1, help="augment: local samples per image (default 1)")
    p.add_argument("--factor", type=float, default=4.0, help="upscale: factor in [1, 64] (default 4)")
    p.add_argument("--seed", type=int, default=0, help="base seed; each output's seed is a hash of it, the "
                                                       "input's relative path and the copy index")
    p.add_argument("--batch", type=int, default=8, help="images of equal size per batch (default 8)")
    p.add_argument("--fast-batches", action="store_true",
                   help="let the model see whole batches (faster on GPUs); outputs may then differ by a grey level "
                        "now and then between batch sizes. Default: per-item model calls, bit-identical outputs")
    p.add_argument("--max-pixels", type=int, default=16_777_216, help="larger images fail (default 4096 x 4096)")
    p.add_argument("--threads", type=int, help="CPU only: torch threads per worker (default: torch's choice; 1 is "
                                               "much faster on a machine shared with other jobs)")
    p.add_argument("--retry-failed", action="store_true", help="retry items that failed in an earlier run")
    p.add_argument("--ray", nargs="?", const=True, default=None, metavar="ADDRESS",
                   help="run on Ray: no ADDRESS starts a local cluster; 'auto' or host:6379 joins one")
    p.add_argument("--workers", type=int, help="Ray actors (default: one per GPU, else one per CPU)")
    add_device_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="[dataset] %(message)s")
    logging.getLogger("boomerang").setLevel(logging.INFO)  # ComfyUI's own start-up chatter stays quiet
    from .run import run_job

    try:
        spec = JobSpec(preset=args.preset, workflow=args.workflow, checkpoint=args.checkpoint, prompt=args.prompt,
                       t_boom=args.t_boom, sampler=args.sampler, scheduler=args.scheduler, steps=args.steps,
                       cfg=args.cfg, copies=args.copies, factor=args.factor, seed=args.seed, batch=args.batch,
                       max_pixels=args.max_pixels, threads=args.threads,
                       exact_batches=not args.fast_batches)
        if args.workers is not None and not 1 <= args.workers <= 4096:
            raise ValueError(f"--workers must be an integer in [1, 4096]; received {args.workers}")
        if args.workers is not None and args.ray is None:
            raise ValueError(f"--workers needs --ray; received --workers {args.workers} without it")
        device = device_from_args(args)
        if args.ray is None:
            device = check_device(device, "--device")
        result = run_job(spec, args.input, args.output, root=args.root, ray=args.ray, workers=args.workers,
                         retry_failed=args.retry_failed, progress=not args.no_progress, device=device)
    except ValueError as err:
        log.error("%s", err)
        return 2
    except ImportError as err:
        log.error("%s", err)
        return 3
    log.info("%d item(s): %d made now, %d already done, %d failed, %.1f s%s%s", result.total, result.done_now,
             result.skipped, len(result.failed), result.seconds,
             f", on {', '.join(sorted(result.devices))}" if result.devices else "",
             f", {result.batches_lost} batch(es) of dead workers redone" if result.batches_lost else "")
    for line in failure_lines(result):
        log.error("%s", line)
    if result.interrupted:
        log.warning("interrupted; run the same command again to resume")
    return result.exit_code


def failure_lines(result) -> list[str]:
    """One line per failed item, then where the full errors are."""
    lines = [f"FAILED {rel} (copy {copy}): {reason}" for rel, copy, reason in result.failed]
    if result.error_log is not None:
        lines.append(f"full errors of the failed items: {result.error_log}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
