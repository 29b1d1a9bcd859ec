"""A dataset job's settings (``JobSpec``), checked with errors that name the setting, its range and the value."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from boomerang.advice import RECOMMENDED
from boomerang.checks import MAX_SEED, MAX_T, check_value

PRESETS = ("anonymize", "augment", "upscale")
DEFAULT_T_BOOM = {"anonymize": 500, "augment": 300, "upscale": 0}  # upscale: 0 = automatic from the factor
FORMAT_VERSION = 2  # bump when the outputs of an unchanged spec would change (2: padded to any size, issue 20)


@dataclass
class JobSpec:
    """What to do with every input image. Either ``preset`` or ``workflow`` (an API- or UI-format file with
    exactly one LoadImage and one SaveImage); the sampling settings apply to presets only."""

    preset: str | None = "anonymize"
    workflow: Path | None = None
    checkpoint: Path | None = None  # None: the built-in digits DDPM; a folder: diffusers pixel model; a file: SD-style
    prompt: str = ""
    t_boom: int | None = None  # None: the preset's default (anonymize 500, augment 300, upscale 0 = automatic)
    sampler: str | None = None  # None: boomerang_exact for pixel models, RECOMMENDED.sampler for checkpoints
    scheduler: str = RECOMMENDED.scheduler
    steps: int | None = None  # fast-path steps; None: min(RECOMMENDED.steps, t_boom)
    cfg: float | None = None  # None: 1.0 for pixel models, 7.5 for checkpoints
    copies: int = 1  # augment: local samples per input
    factor: float = 4.0  # upscale
    seed: int = 0
    batch: int = 8
    max_pixels: int = 16_777_216
    exact_batches: bool = True  # the model runs per item inside a batch: batch size changes no output bit
    threads: int | None = None  # CPU only: torch threads per worker (None: torch's default)
    extra: dict = field(default_factory=dict)  # free-form, recorded in the parameters hash

    def __post_init__(self):
        if self.workflow is not None:
            self.workflow = Path(self.workflow).expanduser()
            if not self.workflow.is_file():
                raise ValueError(f"--workflow must be an existing workflow JSON file; received {self.workflow}")
            check_workflow_roles(self.workflow)
            self.preset = None
        elif self.preset not in PRESETS:
            raise ValueError(f"--preset must be one of {', '.join(PRESETS)}; received {self.preset!r}")
        if self.checkpoint is not None:
            self.checkpoint = Path(self.checkpoint).expanduser()
            if not (self.checkpoint.is_dir() or self.checkpoint.is_file()):
                raise ValueError(f"--checkpoint must be an existing diffusers model folder or checkpoint file; "
                                 f"received {self.checkpoint}")
            self.checkpoint = self.checkpoint.resolve()
        if self.t_boom is None and self.preset:
            self.t_boom = DEFAULT_T_BOOM[self.preset]
        if self.t_boom is not None:
            check_value("--t-boom", self.t_boom, 0, MAX_T)
        if self.steps is not None:
            check_value("--steps", self.steps, 1, MAX_T)
        if self.cfg is not None:
            check_value("--cfg", self.cfg, 0.0, 100.0, "a number")
        check_value("--copies", self.copies, 1, 1000)
        if self.preset != "augment" and self.copies != 1:
            raise ValueError(f"--copies must be 1 unless --preset augment; received {self.copies}")
        check_value("--factor", self.factor, 1.0, 64.0, "a number")
        check_value("--seed", self.seed, 0, MAX_SEED)
        check_value("--batch", self.batch, 1, 1024)
        check_value("--max-pixels", self.max_pixels, 1, 1 << 34)
        if self.threads is not None:
            check_value("--threads", self.threads, 1, 1024)

    def params_hash(self) -> str:
        """Everything that changes an output's bytes: the settings (not batch, max_pixels, threads), the workflow
        file's content and the model file's identity. Items made under another hash are redone."""
        data = {k: v for k, v in asdict(self).items() if k not in ("batch", "max_pixels", "threads")}
        data["workflow"] = _file_identity(self.workflow, content=True)
        data["checkpoint"] = _file_identity(self.checkpoint)
        data["format"] = FORMAT_VERSION
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]


def check_workflow_roles(path: Path):
    """Exactly one LoadImage and one SaveImage in an API-format file (UI files are checked after ComfyUI
    boots, when they can be converted), so a wrong file fails before anything starts."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"--workflow must be a ComfyUI workflow JSON file; {path} could not be read: {err}") from None
    if isinstance(data, dict) and isinstance(data.get("prompt"), dict):
        data = data["prompt"]
    if not isinstance(data, dict) or ("nodes" in data and "links" in data):
        return
    for role in ("LoadImage", "SaveImage"):
        ids = sorted(str(k) for k, n in data.items() if isinstance(n, dict) and n.get("class_type") == role)
        if len(ids) != 1:
            what = "none" if not ids else f"{len(ids)} (node ids {', '.join(ids)}), which is ambiguous"
            raise ValueError(f"--workflow must have exactly one {role} node (the job's "
                             f"{'input' if role == 'LoadImage' else 'output'}); {path} has {what}")


def _file_identity(path: Path | None, content: bool = False):
    if path is None:
        return None
    if content:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if path.is_dir():
        return [str(path)] + sorted((str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns)
                                    for p in path.rglob("*") if p.is_file())
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]
