"""Write the shipped workflows: UI format in workflows/, API twins (converted from the UI files) in workflows/api/.

    .venv/bin/python scripts/build_workflows.py          # rewrite both
    .venv/bin/python scripts/build_workflows.py --check  # fail if a committed file differs (tests run this)

The API twins are made by ``workflow_format.ui_to_api`` from the UI files, never by hand, so they cannot drift.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
import headless  # noqa: E402  (the pack's headless runtime)
from workflow_format import UIWorkflow, ui_to_api  # noqa: E402

WORKFLOWS = headless.REPO / "workflows"
CKPT = "v1-5-pruned-emaonly.safetensors"
IMAGE = "example.png"
FAST = {"cfg": 7.5, "sampler": "dpmpp_2m_sde", "scheduler": "karras", "steps": 20}
SD15_NOTE = ("Made for Stable Diffusion 1.5 checkpoints (any SD1.x/SD2.x/SDXL checkpoint works; flow models "
             "such as SD3/Flux work with their own loader).\n\nChange first: the image in Load Image, then the "
             "checkpoint.")


def _prompt(wf, x=40, y=260, positive="picture of a person"):
    wf.add("ckpt", "CheckpointLoaderSimple", (x, y), {"ckpt_name": CKPT}, size=(320, 100))
    wf.add("pos", "CLIPTextEncode", (x + 360, y - 120), {"text": positive}, {"clip": ("ckpt", 1)}, title="Positive prompt")
    wf.add("neg", "CLIPTextEncode", (x + 360, y + 100), {"text": ""}, {"clip": ("ckpt", 1)}, title="Negative prompt")
    wf.add("img", "LoadImage", (x, y + 200), {"image": IMAGE}, size=(320, 320))


def anonymize_faces(nodes) -> UIWorkflow:
    wf = UIWorkflow(nodes)
    wf.note(SD15_NOTE + "\n\nBoomerang at the paper's anonymization levels t_boom/T = 0.2, 0.5, 0.7, 0.8 with the "
            "paper's prompt 'picture of a person'; the saved strip is original | 0.2 | 0.5 | 0.7 | 0.8.", (40, 20))
    _prompt(wf)
    wf.add("enc", "VAEEncode", (760, 420), links={"pixels": ("img", 0), "vae": ("ckpt", 2)})
    prev = "img"
    for i, t in enumerate((200, 500, 700, 800)):
        y = 40 + i * 300
        wf.add(f"boom{t}", "Boomerang", (1100, y), {"t_boom": t, "seed": 0, **FAST},
               {"model": ("ckpt", 0), "positive": ("pos", 0), "negative": ("neg", 0), "latent": ("enc", 0)},
               title=f"Boomerang t_boom/T = {t / 1000:.1f}", size=(320, 260))
        wf.add(f"dec{t}", "VAEDecode", (1460, y), links={"samples": (f"boom{t}", 0), "vae": ("ckpt", 2)})
        wf.add(f"stitch{t}", "ImageStitch", (1760, y), {"direction": "right", "match_image_size": True,
                                                        "spacing_width": 8, "spacing_color": "white"},
               {"image1": (prev, 0), "image2": (f"dec{t}", 0)})
        prev = f"stitch{t}"
    wf.add("save", "SaveImage", (2120, 400), {"filename_prefix": "boomerang/anonymized_strip"}, {"images": (prev, 0)},
           size=(420, 300))
    wf.group("Boomerang at four anonymization levels", (1080, -10, 1000, 1260))
    return wf


def pre(nodes, factor: float) -> UIWorkflow:
    wf = UIWorkflow(nodes)
    wf.note(SD15_NOTE + f"\n\nPerceptual resolution enhancement {factor:g}x, vanilla as in the paper: bilinear "
            f"upscale, then one Boomerang pass with t_boom automatic from the factor (t_boom = 0 here means "
            f"automatic: 0.2 T at 4x, 0.4 T at 8x, 0.6 T at 16x). Feed a small image.", (40, 20))
    _prompt(wf, positive="a high quality, detailed photograph")
    wf.add("pre", "UpscaleThenBoomerang", (760, 200),
           {"factor": factor, "interpolation": "bilinear", "t_boom": 0, "passes": 1, **FAST, "seed": 0,
            "tile_size": 512, "color_match": "mean", "denoise_tiling": "auto"},
           {"image": ("img", 0), "vae": ("ckpt", 2), "model": ("ckpt", 0), "positive": ("pos", 0),
            "negative": ("neg", 0)}, title=f"Upscale {factor:g}x then Boomerang", size=(340, 420))
    wf.add("save", "SaveImage", (1140, 200), {"filename_prefix": f"boomerang/pre_{factor:g}x"}, {"images": ("pre", 0)},
           size=(420, 420))
    return wf


def pre_cascade(nodes) -> UIWorkflow:
    wf = UIWorkflow(nodes)
    wf.note(SD15_NOTE + "\n\nCascaded PRE (paper section 6.3): bilinear 4x upscale, then 6 small Boomerang "
            "passes (t_boom = 0.2 T each, colour-matched to the input). Every pass is saved so you can pick "
            "the best one, as the paper's human observer did.", (40, 20))
    _prompt(wf, positive="a high quality, detailed photograph")
    wf.add("up", "ImageScaleBy", (760, 460), {"upscale_method": "bilinear", "scale_by": 4.0}, {"image": ("img", 0)})
    wf.add("enc", "VAEEncode", (1100, 460), links={"pixels": ("up", 0), "vae": ("ckpt", 2)})
    wf.add("casc", "CascadeLoop", (1400, 100),
           {"t_boom": 200, **FAST, "seed": 0, "passes": 6, "t_boom_schedule": "", "color_match": "mean"},
           {"model": ("ckpt", 0), "positive": ("pos", 0), "negative": ("neg", 0), "latent": ("enc", 0)},
           title="Cascade: 6 passes at t_boom 200/1000", size=(340, 380))
    wf.add("dec_final", "VAEDecode", (1780, 60), links={"samples": ("casc", 0), "vae": ("ckpt", 2)})
    wf.add("dec_all", "VAEDecode", (1780, 360), links={"samples": ("casc", 1), "vae": ("ckpt", 2)})
    wf.add("save_final", "SaveImage", (2080, 0), {"filename_prefix": "boomerang/pre_cascade_final"},
           {"images": ("dec_final", 0)}, size=(380, 300))
    wf.add("save_all", "SaveImage", (2080, 340), {"filename_prefix": "boomerang/pre_cascade_pass"},
           {"images": ("dec_all", 0)}, size=(380, 300))
    return wf


def augment_dataset(nodes, seeds=(1000, 1001, 1002, 1003), t_boom=250) -> UIWorkflow:
    wf = UIWorkflow(nodes)
    wf.note(SD15_NOTE + f"\n\nData augmentation: {len(seeds)} local samples of the input at t_boom = {t_boom}/1000 "
            "(the paper used 0.25 - 0.4), one seed each. File names say source, t_boom and seed: when you "
            "change the image, change 'example' in the Save Image prefixes too. Add rows for more samples.",
            (40, 20))
    _prompt(wf, positive="a photograph")
    wf.add("enc", "VAEEncode", (760, 420), links={"pixels": ("img", 0), "vae": ("ckpt", 2)})
    for i, seed in enumerate(seeds):
        y = 40 + i * 300
        wf.add(f"boom{seed}", "Boomerang", (1100, y), {"t_boom": t_boom, "seed": seed, **FAST},
               {"model": ("ckpt", 0), "positive": ("pos", 0), "negative": ("neg", 0), "latent": ("enc", 0)},
               title=f"Boomerang seed {seed}", size=(320, 260))
        wf.add(f"dec{seed}", "VAEDecode", (1460, y), links={"samples": (f"boom{seed}", 0), "vae": ("ckpt", 2)})
        wf.add(f"save{seed}", "SaveImage", (1760, y), {"filename_prefix": f"augment/example_t{t_boom}_seed{seed}"},
               {"images": (f"dec{seed}", 0)}, size=(320, 280))
    return wf


def all_workflows(nodes) -> dict[str, UIWorkflow]:
    return {"anonymize_faces": anonymize_faces(nodes), "pre_4x": pre(nodes, 4.0), "pre_8x": pre(nodes, 8.0),
            "pre_16x": pre(nodes, 16.0), "pre_cascade": pre_cascade(nodes), "augment_dataset": augment_dataset(nodes)}


def dump(data) -> str:
    return json.dumps(data, indent=1) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = parser.parse_args(argv)
    rt = headless.ComfyRuntime().boot()
    stale = []
    for name, wf in all_workflows(rt.nodes.NODE_CLASS_MAPPINGS).items():
        ui = wf.to_dict(name)
        for path, text in ((WORKFLOWS / f"{name}.json", dump(ui)),
                           (WORKFLOWS / "api" / f"{name}.json", dump(ui_to_api(ui, rt.nodes.NODE_CLASS_MAPPINGS)))):
            if args.check:
                if not path.is_file() or path.read_text() != text:
                    stale.append(str(path))
            else:
                path.write_text(text)
    if stale:
        print("out of date (run scripts/build_workflows.py):", *stale, sep="\n  ", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
