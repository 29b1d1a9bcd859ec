"""Face detection time per megapixel, dlib HOG vs CNN, on scikit-image's astronaut at a few sizes (a benchmark).

    .venv/bin/python -m benchmarks.bench_face_detect [--sizes 256,512,1024] [--runs 3]

Prints a markdown table: per size and detector, the median wall time of --runs detections (after one warm-up),
seconds per megapixel, and the boxes found. Both detectors run side by side in one process, so their ratio is
meaningful; absolute times depend on the CPU (and on what else runs on it).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import headless


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=[256, 512, 1024])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--upsample", type=int, default=0)
    args = parser.parse_args(argv)
    rt = headless.ComfyRuntime().boot()  # the pack's dlib adapter, as ComfyUI loads it
    faces = rt.pack_module(headless.PACK_DIR_NAME).nodes.dlib_faces
    from PIL import Image
    from skimage import data

    models = faces.load()
    print("| size | detector | upsample | median s | s per megapixel | boxes |\n|---|---|---|---|---|---|")
    for size in args.sizes:
        rgb = np.asarray(Image.fromarray(data.astronaut()).resize((size, size), Image.Resampling.LANCZOS))
        for detector in ("hog", "cnn"):
            found = models.detect(rgb, detector, args.upsample)  # warm-up (and the CNN's first load)
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                models.detect(rgb, detector, args.upsample)
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            boxes = " ".join(f"({d.left},{d.top})-({d.right},{d.bottom})" for d in found) or "none"
            print(f"| {size} | {detector} | {args.upsample} | {median:.3f} | {median / (size * size / 1e6):.2f} | "
                  f"{boxes} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
