"""The main job, headless: run a shipped Boomerang workflow through a real ComfyUI and write the images.

    python scripts/run_demo.py                                  # generated tiny checkpoint + bundled photo
    python scripts/run_demo.py --checkpoint ~/models/sd15.safetensors --image photo.png

Every CheckpointLoaderSimple in the workflow gets the checkpoint and every LoadImage the image. Results go
to --output (default: output/ in the repository). Run it with the project venv (`make demo` does).
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import comfy_runtime  # noqa: E402  (scripts/ is not a package)

REPO = comfy_runtime.REPO
log = logging.getLogger("boomerang.demo")


def prepare(workflow: dict, ckpt_name: str, image_name: str) -> dict:
    graph = json.loads(json.dumps(workflow))
    for node in graph.values():
        if node["class_type"] == "CheckpointLoaderSimple":
            node["inputs"]["ckpt_name"] = ckpt_name
        elif node["class_type"] == "LoadImage":
            node["inputs"]["image"] = image_name
    return graph


def main(argv=None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="a .safetensors checkpoint (default: the generated tiny SD1.5)")
    parser.add_argument("--image", type=Path, help="input image (default: the bundled astronaut photo)")
    parser.add_argument("--size", type=int, default=None, help="side of the bundled photo (64 on the tiny model, else 512)")
    parser.add_argument("--workflow", type=Path, default=REPO / "workflows" / "api" / "boomerang_demo.json")
    parser.add_argument("--output", type=Path, default=REPO / "output")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[demo] %(message)s")
    for path, what in ((args.checkpoint, "--checkpoint"), (args.image, "--image"), (args.workflow, "--workflow")):
        if path is not None and not path.is_file():
            parser.error(f"{what} must be an existing file; received {path}")

    start = time.perf_counter()
    io_dir = Path(tempfile.mkdtemp(prefix="boomerang-demo-"))
    rt = comfy_runtime.ComfyRuntime(io_dir=io_dir, output_dir=args.output.resolve()).boot()
    if args.checkpoint:
        rt.folder_paths.add_model_folder_path("checkpoints", str(args.checkpoint.resolve().parent))
        ckpt_name = args.checkpoint.name
    else:
        ckpt_name = comfy_runtime.tiny_checkpoint(rt)
    input_dir = Path(rt.folder_paths.get_input_directory())
    if args.image:
        image = Path(shutil.copy(args.image, input_dir / args.image.name))
    else:
        image = input_dir / comfy_runtime.write_photo(input_dir, args.size or (512 if args.checkpoint else 64))
    log.info("checkpoint %s, image %s, workflow %s", ckpt_name, image.name, args.workflow.name)
    result = rt.execute(prepare(json.loads(args.workflow.read_text()), ckpt_name, image.name))
    written = []
    for node_output in result["history"]["outputs"].values():
        for item in node_output.get("images", []):
            written.append(args.output / item["subfolder"] / item["filename"])
    for path in written:
        log.info("wrote %s", path)
    log.info("done in %.1f s", time.perf_counter() - start)
    return written


if __name__ == "__main__":
    try:
        main()
    except comfy_runtime.GraphError as err:
        logging.getLogger("boomerang.demo").error("%s", err)
        sys.exit(1)
