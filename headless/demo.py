"""The main job, headless: Boomerang local samples across t_boom/T = 0 ... 1, as a labelled contact sheet.

    python -m headless demo                               # the built-in digits DDPM on 4 held-out digits
    python -m headless demo --checkpoint ~/models/ddpm-celebahq-256 --image face.png   # a diffusers folder
    python -m headless demo --checkpoint ~/models/sd15.safetensors --image photo.png    # an SD checkpoint

One graph runs through a real ComfyUI's executor: loader -> VAE Encode -> one BoomerangNoise +
PartialReverseSampler branch per t_boom -> VAE Decode -> SaveImage. The images land in
``<output>/boomerang-demo/`` and the sheet in ``<output>/boomerang-demo/contact_sheet.png`` (default output/).
Run it with the project venv (`make demo` does).
"""
from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

from boomerang.advice import RECOMMENDED

from . import contact_sheet
from .device import add_device_arguments, check_device, device_from_args
from .models import choose_model
from .paths import PACK_ROOT as REPO
from .runtime import ComfyRuntime, GraphError

SUBFOLDER = "boomerang-demo"
log = logging.getLogger("boomerang.demo")


def fractions(text: str) -> list[float]:
    values = [float(v) for v in text.split(",") if v.strip()]
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"--fractions must be numbers in [0, 1] separated by commas; received "
                                         f"{text!r}")
    return values


def build_graph(nodes: dict, links: dict, images: list[str], seeds: int, t_booms: list[int], settings: dict,
                seed: int) -> dict:
    """The demo graph; batch item k is image k % len(images) with seed copy k // len(images)."""
    graph = dict(nodes)
    previous = None
    for i, name in enumerate(images):
        graph[f"img{i}"] = {"class_type": "LoadImage", "inputs": {"image": name}}
        if previous is None:
            previous = [f"img{i}", 0]
        else:
            graph[f"batch{i}"] = {"class_type": "ImageBatch", "inputs": {"image1": previous, "image2": [f"img{i}", 0]}}
            previous = [f"batch{i}", 0]
    graph["enc"] = {"class_type": "VAEEncode", "inputs": {"pixels": previous, "vae": links["vae"]}}
    graph["seeds"] = {"class_type": "RepeatLatentBatch", "inputs": {"samples": ["enc", 0], "amount": seeds}}
    for t in t_booms:
        steps = min(settings["steps"], t) if t > 0 else settings["steps"]
        graph[f"noise{t}"] = {"class_type": "BoomerangNoise",
                              "inputs": {"model": links["model"], "latent": ["seeds", 0], "t_boom": t, "seed": seed}}
        graph[f"rev{t}"] = {"class_type": "PartialReverseSampler",
                            "inputs": {"model": links["model"], "positive": links["positive"],
                                       "negative": links["negative"], "latent": [f"noise{t}", 0],
                                       **settings, "steps": steps, "seed": seed}}
        graph[f"dec{t}"] = {"class_type": "VAEDecode", "inputs": {"samples": [f"rev{t}", 0], "vae": links["vae"]}}
        graph[f"save{t}"] = {"class_type": "SaveImage",
                             "inputs": {"images": [f"dec{t}", 0], "filename_prefix": f"{SUBFOLDER}/t{t:04d}"}}
    return graph


class ProgressBar:
    """One console bar over all reverse steps of the graph, fed by ComfyUI's global progress hook.

    Nodes run one after another and each reports its absolute step, so a value below the previous one
    means the next sampler node has started."""

    def __init__(self, total: int):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc="Boomerang", unit="step", mininterval=0.5)
        self.last = 0

    def __call__(self, value, total, preview_image=None, **_):
        value = int(value)
        if value < self.last:
            self.last = 0
        self.bar.update(min(value - self.last, self.bar.total - self.bar.n))
        self.last = value


def execute_with_bar(rt, graph: dict, steps_total: int) -> dict:
    """Run ``graph`` with one ProgressBar over its ``steps_total`` reverse steps; ComfyUI's history entry."""
    import comfy.utils

    bar = ProgressBar(steps_total)
    comfy.utils.set_progress_bar_enabled(False)  # the per-node console bars; ours covers the whole graph
    comfy.utils.set_progress_bar_global_hook(bar)
    try:
        return rt.execute(graph)["history"]
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
        bar.bar.close()


def digits_inputs(input_dir: Path, classes: list[int], per_class: int = 1) -> tuple[list[str], list[str]]:
    """Held-out digits (never seen in training) of ``classes`` as 16x16 PNGs; (file names, row labels)."""
    from PIL import Image

    from . import digits_data

    images, labels = digits_data.load("held_out")
    picked, picked_labels = digits_data.first_of_each_class(images, labels, classes, per_class)
    names = []
    for i, (image, label) in enumerate(zip(picked, picked_labels)):
        name = f"digit_{label}_{i:03d}.png"
        Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype("uint8")).save(input_dir / name)
        names.append(name)
    return names, [f"digit {label}" for label in picked_labels]


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m headless demo", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="a diffusers pixel-model folder or an SD-style .safetensors "
                        "checkpoint (default: the built-in digits DDPM)")
    parser.add_argument("--image", type=Path, action="append", help="input image (repeatable; default: 4 held-out "
                                                                    "digits)")
    parser.add_argument("--size", type=int, help="resize inputs to size x size first (default: keep their size)")
    parser.add_argument("--fractions", type=fractions, default=fractions(",".join(f"{i / 10:g}" for i in range(11))),
                        help="t_boom/T values, comma-separated (default 0,0.1,...,1)")
    parser.add_argument("--seeds", type=int, default=3, help="local samples per input and t_boom (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="base seed; batch item k uses seed + k")
    parser.add_argument("--digits", default="2,3,5,8", help="which digit classes the default inputs show")
    parser.add_argument("--sampler", default=None, help="boomerang_exact (default for pixel models) or a ComfyUI "
                        f"sampler (default {RECOMMENDED.sampler} for checkpoints, the recommended fast setting, with "
                        f"--steps of {RECOMMENDED.scheduler})")
    parser.add_argument("--steps", type=int, default=RECOMMENDED.steps,
                        help=f"fast-path steps (default {RECOMMENDED.steps}; ignored by boomerang_exact)")
    parser.add_argument("--prompt", default="", help="positive prompt for checkpoints with a text encoder")
    parser.add_argument("--output", type=Path, default=REPO / "output")
    add_device_arguments(parser)
    args = parser.parse_args(argv)
    try:
        args.device = check_device(device_from_args(args), "--device")
    except ValueError as err:
        parser.error(str(err))
    if args.checkpoint is not None and not (args.checkpoint.is_dir() or args.checkpoint.is_file()):
        parser.error(f"--checkpoint must be an existing diffusers model folder or checkpoint file; received "
                     f"{args.checkpoint}")
    for image in args.image or []:
        if not image.is_file():
            parser.error(f"--image must be an existing image file; received {image}")
    if not 1 <= args.seeds <= 64:
        parser.error(f"--seeds must be an integer in [1, 64]; received {args.seeds}")
    digits = args.digits.split(",")
    if not all(d.strip().isdigit() and int(d) <= 9 for d in digits):
        parser.error(f"--digits must be digit classes 0-9 separated by commas; received {args.digits!r}")
    if not 1 <= args.steps <= 10000:
        parser.error(f"--steps must be an integer in [1, 10000]; received {args.steps}")
    if args.size is not None and not 8 <= args.size <= 4096:
        parser.error(f"--size must be an integer in [8, 4096]; received {args.size}")
    return args


def main(argv=None) -> Path:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="[demo] %(message)s")
    start = time.perf_counter()
    rt = ComfyRuntime(io_dir=Path(tempfile.mkdtemp(prefix="boomerang-demo-")),
                      output_dir=args.output.resolve(), device=args.device).boot()
    input_dir = Path(rt.folder_paths.get_input_directory())
    model = choose_model(rt, args.checkpoint, args.prompt)
    name, nodes, links = model.name, model.nodes, model.links
    if args.image:
        images = [Path(shutil.copy(p, input_dir / f"{i}_{p.name}")).name for i, p in enumerate(args.image)]
        labels = [p.stem[:14] for p in args.image]
    else:
        images, labels = digits_inputs(input_dir, [int(d) for d in args.digits.split(",")])
    if args.size:
        from PIL import Image

        for image in images:
            picture = Image.open(input_dir / image).convert("RGB")
            picture.resize((args.size, args.size), Image.Resampling.LANCZOS).save(input_dir / image)
    sampler = args.sampler or model.default_sampler
    settings = {"cfg": model.default_cfg, "sampler": sampler, "scheduler": RECOMMENDED.scheduler,
                "steps": args.steps}
    total_t = model_timesteps(rt, nodes, links, images[0])  # also surfaces model errors before any sampling
    t_booms = sorted({round(f * total_t) for f in args.fractions})
    graph = build_graph(nodes, links, images, args.seeds, t_booms, settings, args.seed)
    log.info("model %s (T = %d), %d input(s) x %d seed(s), t_boom %s, sampler %s, on %s (%s)", name, total_t,
             len(images), args.seeds, t_booms, sampler, rt.device, rt.device_name)
    steps_total = sum((t if sampler == "boomerang_exact" else min(args.steps, t)) for t in t_booms)
    history = execute_with_bar(rt, graph, steps_total)
    sheet = sheet_from_history(history, args, images, labels, input_dir, t_booms, total_t, name, sampler)
    log.info("wrote %d images and %s in %.1f s", len(images) * args.seeds * len(t_booms), sheet,
             time.perf_counter() - start)
    return sheet


def model_timesteps(rt, nodes, links, image: str) -> int:
    """The model's T, as BoomerangNoise reads it from the model's sampling object (its ``boomerang_level``
    UI output at t_boom = 0)."""
    graph = {**nodes, "img": {"class_type": "LoadImage", "inputs": {"image": image}},
             "lat": {"class_type": "VAEEncode", "inputs": {"pixels": ["img", 0], "vae": links["vae"]}},
             "noise": {"class_type": "BoomerangNoise", "inputs": {"model": links["model"], "latent": ["lat", 0],
                                                                  "t_boom": 0, "seed": 0}},
             "show": {"class_type": "PreviewAny", "inputs": {"source": ["noise", 2]}}}
    level = rt.execute(graph)["history"]["outputs"]["noise"]["boomerang_level"][0]
    return int(level["T"])


def sheet_from_history(history, args, images, labels, input_dir, t_booms, total_t, name, sampler) -> Path:
    from PIL import Image

    out_dir = args.output.resolve()
    n = len(images)
    columns, outputs = [], []
    for t in t_booms:
        files = history["outputs"][f"save{t}"]["images"]
        outputs.append([Image.open(out_dir / f["subfolder"] / f["filename"]) for f in files])
        columns.append(f"t/T {t / total_t:.2g}\nt_boom {t}")
    rows = []
    for i in range(n):  # each input's seeds together; batch item k = copy * n + i has seed seed + k
        original = Image.open(input_dir / images[i])
        for copy in range(args.seeds):
            k = copy * n + i
            rows.append((f"{labels[i]}\nseed {args.seed + k}", original, [col[k] for col in outputs]))
    title = f"Boomerang local samples - {name}, {sampler}, T = {total_t}"
    side = 64 if max(Image.open(input_dir / images[0]).size) <= 64 else 128
    sheet = contact_sheet.draw(rows, columns, title, side=side)
    return contact_sheet.save(sheet, out_dir / SUBFOLDER / "contact_sheet.png")


def run(argv=None) -> int:
    """``python -m headless demo``: the exit status (1 when ComfyUI rejects or fails the graph)."""
    try:
        main(argv)
    except GraphError as err:
        log.error("%s", err)
        return 1
    return 0
