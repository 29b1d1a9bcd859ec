"""Which model a headless run uses: the built-in digits DDPM, a diffusers pixel-model folder or an SD-style
checkpoint file, as loader nodes plus the links (model, vae, positive, negative) the Boomerang graphs need."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from boomerang.advice import RECOMMENDED
from boomerang.checks import EXACT

BUILTIN = "digits-ddpm (built-in)"


@dataclass
class ModelChoice:
    kind: str  # "pixel" (PixelDiffusionLoader) or "checkpoint" (CheckpointLoaderSimple)
    name: str  # the loader's model_name / ckpt_name
    nodes: dict = field(default_factory=dict)  # API-format loader nodes
    links: dict = field(default_factory=dict)  # {"model", "vae", "positive", "negative"} -> [node, slot]

    @property
    def default_sampler(self) -> str:
        """boomerang_exact for pixel models (the paper's Algorithm 1), the recommended fast setting otherwise."""
        return EXACT if self.kind == "pixel" else RECOMMENDED.sampler

    @property
    def default_cfg(self) -> float:
        return 1.0 if self.kind == "pixel" else 7.5


def check_checkpoint(checkpoint) -> Path | None:
    """``checkpoint`` as an existing path, or a ValueError naming the input and the value received."""
    if checkpoint is None:
        return None
    path = Path(checkpoint).expanduser()
    if not (path.is_dir() or path.is_file()):
        raise ValueError(f"--checkpoint must be an existing diffusers model folder or checkpoint file; "
                         f"received {checkpoint}")
    return path.resolve()


def model_nodes(kind: str, name: str, prompt: str = "") -> tuple[dict, dict]:
    """(loader nodes, links {model, vae, positive, negative}) for a pixel model or an SD-style checkpoint."""
    if kind == "pixel":
        nodes = {"load": {"class_type": "PixelDiffusionLoader",
                          "inputs": {"model_name": name, "weight_dtype": "float32"}}}
        return nodes, {"model": ["load", 0], "vae": ["load", 1], "positive": ["load", 2], "negative": ["load", 2]}
    nodes = {"load": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": name}},
             "pos": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["load", 1], "text": prompt}},
             "neg": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["load", 1], "text": ""}}}
    return nodes, {"model": ["load", 0], "vae": ["load", 2], "positive": ["pos", 0], "negative": ["neg", 0]}


def choose_model(rt, checkpoint=None, prompt: str = "") -> ModelChoice:
    """Register ``checkpoint``'s folder with the booted runtime ``rt`` and return its loader nodes.

    None is the built-in digits DDPM; a folder is a diffusers pixel model (PixelDiffusionLoader); a file is
    an SD-style checkpoint (CheckpointLoaderSimple, with the prompt encoded by its CLIP)."""
    path = check_checkpoint(checkpoint)
    kind, name = "pixel", BUILTIN
    if path is not None and path.is_dir():
        rt.folder_paths.add_model_folder_path("diffusers", str(path.parent))
        name = path.name
    elif path is not None:
        rt.folder_paths.add_model_folder_path("checkpoints", str(path.parent))
        kind, name = "checkpoint", path.name
    nodes, links = model_nodes(kind, name, prompt)
    return ModelChoice(kind, name, nodes, links)
