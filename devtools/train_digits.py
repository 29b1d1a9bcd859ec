"""Train the embedded default: a small pixel-space DDPM on scikit-learn's digits, in diffusers format.

    make digits-model                          # = .venv/bin/python -m devtools.train_digits
    python -m devtools.train_digits --steps 300 --out /tmp/digits   # a quick smoke run

Everything is seeded (data split, initial weights, batches, timesteps, noise), so a rerun on the same
torch build gives the same weights. Writes ``models/digits-ddpm/`` in the DDPMPipeline layout
(``unet/``, ``scheduler/``, ``model_index.json``; safetensors only) plus its model card ``README.md`` with
the measured training time and sample quality.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from headless import digits_data

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "models" / "digits-ddpm"
log = logging.getLogger("boomerang.train")

UNET = dict(sample_size=digits_data.SIDE, in_channels=3, out_channels=3, layers_per_block=1,
            block_out_channels=(32, 64, 64), down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), norm_num_groups=8, attention_head_dim=32)
SCHEDULE = dict(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear",
                prediction_type="epsilon", variance_type="fixed_small", clip_sample=False)


def lr_at(step: int, steps: int, peak: float, warmup: int = 200) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup))))


def train(steps: int, batch: int, seed: int, lr: float):
    from diffusers import DDPMScheduler, UNet2DModel

    images, _ = digits_data.load("train")
    data = images * 2.0 - 1.0
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        unet = UNet2DModel(**UNET)
    ema = UNet2DModel(**UNET)
    ema.load_state_dict(unet.state_dict())
    ema.requires_grad_(False)
    scheduler = DDPMScheduler(**SCHEDULE)
    alpha_bar = scheduler.alphas_cumprod.float()
    gen = torch.Generator().manual_seed(seed + 1)
    optimiser = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.0)
    from tqdm.auto import trange

    start, losses = time.perf_counter(), []
    bar = trange(steps, desc="training", mininterval=2.0)
    for step in bar:
        for group in optimiser.param_groups:
            group["lr"] = lr_at(step, steps, lr)
        x0 = data[torch.randint(0, len(data), (batch,), generator=gen)]
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch,), generator=gen)
        eps = torch.randn(x0.shape, generator=gen)
        a = alpha_bar[t].view(-1, 1, 1, 1)
        loss = torch.nn.functional.mse_loss(unet(a.sqrt() * x0 + (1 - a).sqrt() * eps, t).sample, eps)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimiser.step()
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), unet.parameters()):
                p_ema.lerp_(p, 1 - decay)
        losses.append(loss.item())
        if step % 100 == 99:
            bar.set_postfix(loss=f"{np.mean(losses[-100:]):.4f}")
    return ema.eval(), scheduler, time.perf_counter() - start, float(np.mean(losses[-500:]))


@torch.no_grad()
def sample_fresh(unet, scheduler, count: int, seed: int) -> torch.Tensor:
    """``count`` samples from pure noise by DDPM ancestral sampling (beta~ variance), images in 0..1."""
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(seed)
    scheduler.set_timesteps(scheduler.config.num_train_timesteps)
    x = torch.randn((count, 3, digits_data.SIDE, digits_data.SIDE), generator=gen)
    for t in tqdm(scheduler.timesteps, desc="sampling", mininterval=2.0):
        x = scheduler.step(unet(x, t).sample, t, x, generator=gen).prev_sample
    return ((x + 1) / 2).clamp(0, 1)


def quality(samples: torch.Tensor) -> dict:
    from sklearn.neighbors import KNeighborsClassifier

    train_x, train_y = digits_data.load("train")
    held_x, held_y = digits_data.load("held_out")
    svm = digits_data.classifier(train_x, train_y)
    knn = KNeighborsClassifier(n_neighbors=3).fit(digits_data.features(train_x), train_y)
    s_feat, h_feat = digits_data.features(samples), digits_data.features(held_x)
    s_svm, h_svm = svm.predict(s_feat), svm.predict(h_feat)
    nn = lambda f: float(np.mean(np.sqrt(  # noqa: E731 - mean RMS distance to the nearest training image
        ((f[:, None, :] - digits_data.features(train_x)[None]) ** 2).mean(-1)).min(1)))
    return {
        "classifier_acc_held_out": float((h_svm == held_y).mean()),
        "agree_held_out": float((knn.predict(h_feat) == h_svm).mean()),
        "agree_samples": float((knn.predict(s_feat) == s_svm).mean()),
        "class_share": np.bincount(s_svm, minlength=10) / len(s_svm),
        "nn_rms_held_out": nn(h_feat),
        "nn_rms_samples": nn(s_feat),
    }


def write_card(out: Path, args, n_params: int, train_s: float, sample_s: float, final_loss: float, q: dict):
    shares = ", ".join(f"{d}: {s:.0%}" for d, s in enumerate(q["class_share"]))
    text = f"""# digits-ddpm: the embedded default model of Boomerang for ComfyUI

A small pixel-space DDPM trained by `devtools/train_digits.py` (retrain: `make digits-model`). It exists so
that a fresh machine can show Boomerang local sampling without anyone's checkpoint: load it with the
**PixelDiffusionLoader** node (it is listed as `{out.name} (built-in)`) or with diffusers' `DDPMPipeline`.

| | |
|---|---|
| data | scikit-learn's `load_digits` (UCI Optical Recognition of Handwritten Digits, CC BY 4.0): {1797 - digits_data.HELD_OUT} training images; {digits_data.HELD_OUT} held out (split seed {digits_data.SPLIT_SEED}) |
| resolution | 8x8 resized 2x bilinear to {digits_data.SIDE}x{digits_data.SIDE}, grey copied to 3 channels, scaled to -1..1 |
| model | diffusers `UNet2DModel`, channels {UNET['block_out_channels']}, 1 ResNet per block, attention at 8x8, {n_params / 1e6:.2f} M parameters, float32 safetensors |
| schedule | DDPM: {SCHEDULE['num_train_timesteps']} steps, linear betas {SCHEDULE['beta_start']} to {SCHEDULE['beta_end']}, epsilon prediction |
| training | {args.steps} steps of batch {args.batch}, AdamW peak lr {args.lr} (200 warm-up steps, cosine to 5%), grad-norm clip 1, EMA 0.999 (these weights), seed {args.seed}, final loss {final_loss:.4f} (mean of last 500 steps) |
| time | {train_s / 60:.1f} min training + {sample_s:.0f} s sampling {args.samples} images for the figures below, on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), torch {torch.__version__}, {torch.get_num_threads()} threads |

## Sample quality

{args.samples} fresh samples (DDPM ancestral sampling from pure noise, all 1000 steps, seed {args.seed}),
judged by two classifiers fitted on the training split (an RBF SVM, {q['classifier_acc_held_out']:.1%} accurate on the held-out digits,
and 3-nearest-neighbours):

| | held-out real digits | fresh samples |
|---|---|---|
| SVM and 3-NN give the same label | {q['agree_held_out']:.1%} | {q['agree_samples']:.1%} |
| RMS distance to the nearest training image (0..1 grey) | {q['nn_rms_held_out']:.3f} | {q['nn_rms_samples']:.3f} |

SVM labels of the samples: {shares} (a model that covers every class evenly would give 10% each).
Labels on which two unrelated classifiers agree, and a nearest-training-image distance like that of unseen
real digits, say the samples read as digits without being copies of the training set. It is still a
{n_params / 1e6:.1f} M-parameter model of 16x16 digits: a demonstration model, not a benchmark generator.
"""  # noqa: E501 - generated markdown: each table row and paragraph is one line of the model card
    (out / "README.md").write_text(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[train] %(message)s")
    torch.set_num_threads(os.cpu_count() or 1)
    unet, scheduler, train_s, final_loss = train(args.steps, args.batch, args.seed, args.lr)
    out = args.out
    (out / "unet").mkdir(parents=True, exist_ok=True)
    unet.save_pretrained(out / "unet", safe_serialization=True)
    scheduler.save_pretrained(out / "scheduler")
    (out / "model_index.json").write_text(json.dumps(
        {"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"],
         "scheduler": ["diffusers", "DDPMScheduler"]}, indent=2) + "\n")
    start = time.perf_counter()
    samples = sample_fresh(unet, scheduler, args.samples, args.seed)
    sample_s = time.perf_counter() - start
    q = quality(samples)
    n_params = sum(p.numel() for p in unet.parameters())
    write_card(out, args, n_params, train_s, sample_s, final_loss, q)
    log.info("wrote %s (%.1f min training, final loss %.4f, sample agreement %.1f%%)", out, train_s / 60,
             final_loss, 100 * q["agree_samples"])


if __name__ == "__main__":
    main()
