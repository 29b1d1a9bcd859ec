"""The README's main job: the shipped workflow, headless, on the generated checkpoint and the bundled photo."""
import subprocess
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def test_demo_writes_the_workflow_outputs(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "run_demo.py"), "--output", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png"))
    assert files == ["boomerang/local_sample_t250_00001_.png", "boomerang/noisy_latent_t250_00001_.png",
                     "boomerang/pre_4x_00001_.png"]
    assert Image.open(tmp_path / files[0]).size == (64, 64)
    assert Image.open(tmp_path / files[2]).size == (256, 256)  # 4x of the 64 x 64 photo


def test_demo_rejects_a_missing_checkpoint(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "run_demo.py"), "--checkpoint",
                           str(tmp_path / "nope.safetensors")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "--checkpoint must be an existing file; received" in proc.stderr
