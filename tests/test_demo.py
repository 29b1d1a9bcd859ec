"""The README's main job: the digits contact sheet, headless through ComfyUI, on the built-in model."""
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from boomerang.advice import RECOMMENDED

REPO = Path(__file__).resolve().parent.parent
DEMO = [sys.executable, "-m", "headless", "demo"]  # run from the repo root, as `make demo` does


def test_demo_writes_contact_sheet_and_images(tmp_path):
    # A shortened run of the default job: 2 digits x 2 seeds at t_boom/T = 0, 0.05 and 1.
    proc = subprocess.run([*DEMO, "--output", str(tmp_path), "--digits", "3,7", "--seeds", "2",
                           "--fractions", "0,0.05,1", "--cpu"], capture_output=True, text=True, cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ", on cpu (cpu)" in proc.stderr  # the device it ran on: --cpu honoured
    assert "Boomerang: 100%" in proc.stderr  # one progress bar over all 1050 reverse steps
    out = tmp_path / "boomerang-demo"
    files = {t: sorted(out.glob(f"t{t:04d}_*.png")) for t in (0, 50, 1000)}
    assert all(len(f) == 4 for f in files.values()), files
    sheet = Image.open(out / "contact_sheet.png")
    # 4 rows and 1 + 3 columns of 64 px tiles with 4 px gaps, plus the label column and headers
    assert sheet.size[1] == 26 + 34 + 4 * 68 + 4 and sheet.size[0] >= 110 + 4 * 68 + 4  # wider if the title is
    pixels = {t: [np.asarray(Image.open(p)) for p in f] for t, f in files.items()}
    # t_boom = 0 is the input itself (8-bit round trip), so both seeds of a digit agree exactly
    assert np.array_equal(pixels[0][0], pixels[0][2]) and np.array_equal(pixels[0][1], pixels[0][3])
    # every t_boom > 0 gives a different image per seed
    for t in (50, 1000):
        assert not np.array_equal(pixels[t][0], pixels[t][2]) and not np.array_equal(pixels[t][1], pixels[t][3])
    # a near copy at 5% of T, something else at T (mean abs grey difference to the t_boom = 0 image)
    near = np.mean([np.abs(pixels[50][i] / 255 - pixels[0][i] / 255).mean() for i in range(4)])
    far = np.mean([np.abs(pixels[1000][i] / 255 - pixels[0][i] / 255).mean() for i in range(4)])
    assert near < 0.06 < far, (near, far)


def test_demo_takes_your_checkpoint_and_image(comfy, tmp_path):
    from testkit.runtime import tiny_checkpoint

    ckpt = comfy.models / "checkpoints" / tiny_checkpoint(comfy)
    photo = tmp_path / "my photo.png"
    Image.fromarray(np.full((48, 40, 3), 120, np.uint8)).save(photo)
    proc = subprocess.run([*DEMO, "--checkpoint", str(ckpt), "--image", str(photo), "--seeds", "2",
                           "--fractions", "0,0.3", "--steps", "3", "--output", str(tmp_path / "out"), "--cpu"],
                          capture_output=True, text=True, cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"sampler {RECOMMENDED.sampler}" in proc.stderr and "t_boom [0, 300]" in proc.stderr
    out = tmp_path / "out" / "boomerang-demo"
    images = sorted(out.glob("t0300_*.png"))
    assert len(images) == 2 and Image.open(images[0]).size == (40, 48)
    assert (out / "contact_sheet.png").is_file()


def test_demo_rejects_a_missing_checkpoint(tmp_path):
    proc = subprocess.run([*DEMO, "--checkpoint", str(tmp_path / "nope.safetensors")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert "--checkpoint must be an existing diffusers model folder or checkpoint file; received" in proc.stderr


def test_demo_rejects_bad_fractions():
    proc = subprocess.run([*DEMO, "--fractions", "0,1.5"], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 2
    assert "--fractions must be numbers in [0, 1] separated by commas; received '0,1.5'" in proc.stderr


def test_demo_rejects_bad_digits():
    proc = subprocess.run([*DEMO, "--digits", "3,12"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert "--digits must be digit classes 0-9 separated by commas; received '3,12'" in proc.stderr
