"""Anonymity of Boomerang on face photos, the analog of the paper's Figure 5 (a benchmark, not a test).

    make bench-anonymity ARGS="--checkpoint v1-5-pruned-emaonly.safetensors --images DIR"
    .venv/bin/python -m benchmarks.bench_anonymity --smoke          # the tiny random checkpoint, structure only

Every photo in DIR (png/jpg/webp; best face crops as in LFW or CelebA-HQ) is resized to --size, then goes through
the real ComfyUI executor: VAE Encode -> Boomerang at t_boom/T in {0.2, 0.5, 0.7, 0.8} (--seeds seeds each) ->
VAE Decode -> Save Image. dlib's 128-d face descriptors (HOG detector, 5-point alignment, ResNet recognizer; the
face nodes' own code) of each output and of its original give the identity distance; a pair counts as
"declared different people" when the distance is at least --threshold (0.6, dlib's LFW calibration) or the output
has no face. Photos where the original has no detectable face are listed and left out.

Writes a markdown table and a histogram PNG (docs/ANONYMITY.md, docs/anonymity.png unless --out says otherwise).
--checkpoint is a file name in ComfyUI's checkpoints folder or a path to one.
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import headless

REPO = headless.REPO
FRACTIONS = (0.2, 0.5, 0.7, 0.8)
SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
log = logging.getLogger("boomerang.anonymity")


def smoke_images(folder: Path) -> Path:
    """Face crops of scikit-image's astronaut (public domain), as in a face dataset: a loose crop, its mirror image
    and a tight crop (the face fills 40-60% of each, so dlib finds it even at 128 px)."""
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    photo = Image.fromarray(data.astronaut())
    loose = photo.crop((110, 10, 330, 230))
    loose.save(folder / "astronaut_face.png")
    loose.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "astronaut_face_mirror.png")
    photo.crop((140, 40, 300, 200)).save(folder / "astronaut_face_tight.png")
    return folder


def prepare_inputs(images: Path, input_dir: Path, size: int) -> list[str]:
    from PIL import Image

    names = []
    for i, path in enumerate(sorted(p for p in images.iterdir() if p.suffix.lower() in SUFFIXES)):
        name = f"anonymity_{i:04d}.png"
        Image.open(path).convert("RGB").resize((size, size), Image.Resampling.LANCZOS).save(input_dir / name)
        names.append(name)
    if not names:
        raise SystemExit(f"--images {images}: no png/jpg/webp/bmp files")
    return names


def build_graph(ckpt: str, names: list[str], t_booms: list[int], seeds: int, settings: dict, prompt: str) -> dict:
    g = {"ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
         "pos": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": prompt}},
         "neg": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": ""}}}
    for i, name in enumerate(names):
        g[f"img{i}"] = {"class_type": "LoadImage", "inputs": {"image": name}}
        g[f"enc{i}"] = {"class_type": "VAEEncode", "inputs": {"pixels": [f"img{i}", 0], "vae": ["ckpt", 2]}}
        for t in t_booms:
            for s in range(seeds):
                key = f"{i}_{t}_{s}"
                g[f"boom{key}"] = {"class_type": "Boomerang", "inputs": {
                    "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent": [f"enc{i}", 0],
                    "t_boom": t, **settings, "seed": s}}
                g[f"dec{key}"] = {"class_type": "VAEDecode",
                                  "inputs": {"samples": [f"boom{key}", 0], "vae": ["ckpt", 2]}}
                g[f"save{key}"] = {"class_type": "SaveImage", "inputs": {"images": [f"dec{key}", 0],
                                                                         "filename_prefix": f"anonymity/{key}"}}
    return g


def measure(args) -> dict:
    rt = headless.ComfyRuntime(io_dir=Path(tempfile.mkdtemp(prefix="boomerang-anonymity-")), device=args.device).boot()
    log.info("on %s (%s)", rt.device, rt.device_name)
    if args.smoke:
        from testkit import dev_assets

        ckpt = dev_assets.tiny_checkpoint(rt)
    else:
        path = Path(args.checkpoint).expanduser()
        if path.is_file():
            rt.folder_paths.add_model_folder_path("checkpoints", str(path.parent.resolve()))
        ckpt = path.name
    input_dir = Path(rt.folder_paths.get_input_directory())
    names = prepare_inputs(args.images, input_dir, args.size)
    total = 1000
    t_booms = [round(f * total) for f in args.fractions]
    settings = {"cfg": args.cfg, "sampler": args.sampler, "scheduler": args.scheduler, "steps": args.steps}
    start = time.perf_counter()
    history = rt.execute(build_graph(ckpt, names, t_booms, args.seeds, settings, args.prompt))["history"]
    seconds = time.perf_counter() - start
    from PIL import Image

    faces = rt.pack_module(headless.PACK_DIR_NAME).nodes.dlib_faces
    models = faces.load()

    def vector(path):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        found = faces.nearest(models.detect(rgb, "hog", args.upsample), None)
        return None if found is None else models.descriptor(rgb, (found.left, found.top, found.right, found.bottom))

    originals = {i: vector(input_dir / n) for i, n in enumerate(names)}
    rows = {t: [] for t in t_booms}
    for i in originals:
        if originals[i] is None:
            continue
        for t in t_booms:
            for s in range(args.seeds):
                saved = history["outputs"][f"save{i}_{t}_{s}"]["images"][0]
                out = vector(rt.output_dir / saved["subfolder"] / saved["filename"])
                rows[t].append(None if out is None else faces.distance(out, originals[i]))
    return {"rows": rows, "names": names, "no_face_originals": [names[i] for i, v in originals.items() if v is None],
            "seconds": seconds, "ckpt": ckpt, "total": total}


def table(result: dict, threshold: float) -> list[str]:
    lines = ["| t_boom/T | outputs | no face found | declared different people (d >= {0:g} or no face) | "
             "distance min / median / max (faces found) |".format(threshold), "|---|---|---|---|---|"]
    for t, values in result["rows"].items():
        found = np.array([v for v in values if v is not None])
        n = len(values)
        no_face = n - len(found)
        different = no_face + int((found >= threshold).sum())
        dist = f"{found.min():.3f} / {np.median(found):.3f} / {found.max():.3f}" if len(found) else "-"

        def share(k, n=n):
            return f"{k}/{n} ({100 * k / n:.0f}%)" if n else "-"

        lines.append(f"| {t / result['total']:.1f} | {n} | {share(no_face)} | {share(different)} | {dist} |")
    return lines


def histogram(result: dict, threshold: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = list(result["rows"])
    fig, axes = plt.subplots(1, len(levels), figsize=(3.2 * len(levels), 3), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, t in zip(axes, levels):
        values = result["rows"][t]
        found = [v for v in values if v is not None]
        ax.hist(found, bins=np.linspace(0, 1.2, 25), color="#3f789e")
        ax.bar([1.3], [len(values) - len(found)], width=0.08, color="#b55", label="no face")
        ax.axvline(threshold, color="k", linestyle="--", linewidth=1)
        ax.set_xticks([0, 0.3, 0.6, 0.9, 1.3], ["0", "0.3", "0.6", "0.9", "no face"])
        ax.set_title(f"t_boom/T = {t / result['total']:.1f}")
        ax.set_xlabel("identity distance to original")
    axes[0].set_ylabel("outputs")
    axes[-1].legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_doc(result: dict, args, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    png = out / "anonymity.png"
    histogram(result, args.threshold, png)
    rows = table(result, args.threshold)
    kind = ("the pack's tiny random-weight test checkpoint: this run shows the benchmark's structure only and says "
            "nothing about anonymity (a random VAE keeps no face at any t_boom)" if args.smoke
            else f"`{result['ckpt']}`")
    source = ("astronaut-derived face crops: loose, its mirror image, tight" if args.smoke and not args.images_given
              else args.images)
    text = "\n".join([
        "# Anonymity: identity distance to the original vs t_boom (paper Figure 5 analog)", "",
        "Generated by `python -m benchmarks.bench_anonymity`; do not edit by hand.", "",
        f"Model: {kind}. Photos: {len(result['names'])} ({source}) at {args.size} px; {args.seeds} seed(s) per "
        f"photo and level; "
        f"{args.sampler} + {args.scheduler}, {args.steps} steps, cfg {args.cfg:g}, prompt '{args.prompt}'. "
        f"Identity: dlib's ResNet descriptors (HOG detector, upsample {args.upsample}), threshold {args.threshold:g}. "
        f"Wall time of the generation: {result['seconds']:.0f} s on {os.cpu_count()} CPU cores "
        f"({platform.machine()}; not a GPU figure).", "",
        *(["Left out (no face found in the original): " + ", ".join(result["no_face_originals"]), ""]
          if result["no_face_originals"] else []),
        *rows, "", f"![histogram of identity distances per t_boom]({png.name})", "",
        "## Run it on your photos (real weights, a GPU)", "",
        "```",
        "make bench-anonymity ARGS=\"--checkpoint v1-5-pruned-emaonly.safetensors --images ~/faces --seeds 4\"",
        "```", "",
        "Use face crops (the paper used LFW and CelebA-HQ). `--checkpoint` is a file in ComfyUI's checkpoints "
        "folder or a path; `--size 512` suits SD1.5. Expect the share declared different people to rise with "
        "t_boom (the paper's Figure 5); the share with no face found tells you how often the output is no longer "
        "a face at all. On a GPU, 4 levels x 4 seeds x 100 photos are 1,600 Boomerang runs of 20 steps.",
        "Options: `--fractions`, `--seeds`, `--steps`, `--sampler`, `--scheduler`, `--cfg`, `--prompt`, "
        "`--threshold`, `--upsample`, `--out`.", ""])
    (out / "ANONYMITY.md").write_text(text)
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="checkpoint file name (ComfyUI's checkpoints folder) or path")
    parser.add_argument("--images", type=Path, help="folder of face photos")
    parser.add_argument("--smoke", action="store_true", help="tiny checkpoint, astronaut photos: structure only")
    parser.add_argument("--fractions", type=lambda s: [float(v) for v in s.split(",")], default=list(FRACTIONS))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--sampler", default="dpmpp_2m_sde")
    parser.add_argument("--scheduler", default="karras")
    parser.add_argument("--cfg", type=float, default=7.5)
    parser.add_argument("--prompt", default="picture of a person")
    parser.add_argument("--threshold", type=float, default=0.6)
    parser.add_argument("--upsample", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="folder for ANONYMITY.md and anonymity.png "
                                                                 "(default docs/; --smoke: a temporary folder)")
    headless.add_device_arguments(parser)
    args = parser.parse_args(argv)
    args.device = headless.device_from_args(args)
    logging.basicConfig(level=logging.WARNING)
    if not 0.0 < args.threshold < 2.0:
        parser.error(f"--threshold must be a number in (0, 2); received {args.threshold}")
    if any(not 0.0 < f <= 1.0 for f in args.fractions):
        parser.error(f"--fractions must be numbers in (0, 1]; received {args.fractions}")
    if args.seeds < 1 or args.steps < 1 or args.size < 64:
        parser.error(f"--seeds and --steps must be >= 1 and --size >= 64; received {args.seeds}, {args.steps}, "
                     f"{args.size}")
    if args.smoke:
        args.images_given = args.images is not None
        args.images = args.images or smoke_images(Path(tempfile.mkdtemp(prefix="boomerang-faces-")))
        args.out = args.out or Path(tempfile.mkdtemp(prefix="boomerang-anonymity-doc-"))
    elif not (args.checkpoint and args.images):
        parser.error("--checkpoint and --images are required (or --smoke)")
    args.out = args.out or REPO / "docs"
    result = measure(args)
    print(write_doc(result, args, args.out))
    print(f"wrote {args.out / 'ANONYMITY.md'} and {args.out / 'anonymity.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
