"""The graph of a dataset job: a template with exactly one LoadImage (the input) and one SaveImage (the output),
from a preset (built from the live node schemas) or a workflow file, and its expansion to a batch of items.

Two ways to batch, both giving every item exactly the bytes of a batch of one with its own seed:
- tensor batching, when a BoomerangItemSeeds node follows the input (the anonymize and augment presets):
  the images are stacked with ImageBatch and the item seeds go in as the latent's batch_index;
- per-item copies otherwise (upscale, most workflow files): the nodes that depend on the image or carry a
  seed are repeated once per item, with that item's seed, in one graph; loaders and text encoders run once.
"""
from __future__ import annotations

import copy as _copy
import json
from pathlib import Path

from boomerang.advice import RECOMMENDED

from ..graphs import api_node, ui_to_api
from ..models import ModelChoice

SEED_INPUTS = ("seed", "noise_seed")
SEEDS_NODE = "BoomerangItemSeeds"
SETTING_INPUTS = ("t_boom", "sampler", "steps", "sampler_name")


def is_link(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


class Template:
    def __init__(self, graph: dict, load_id: str, save_id: str, model_name: str, origin: str):
        self.graph, self.load_id, self.save_id = graph, load_id, save_id
        self.model_name, self.origin = model_name, origin
        self.per_item = self._closure()
        seeds = [k for k in self.per_item if graph[k]["class_type"] == SEEDS_NODE]
        uses_mask = any(v == [load_id, 1] for n in graph.values() for v in n["inputs"].values())
        self.seeds_id = seeds[0] if len(seeds) == 1 and not uses_mask else None

    def _closure(self, image_only: bool = False) -> set:
        """Nodes that depend on the input image or on a seed (with ``image_only``: on the image)."""
        start = {self.load_id} | (set() if image_only else {
            k for k, n in self.graph.items()
            if any(name in SEED_INPUTS and not is_link(v) for name, v in n["inputs"].items())})
        closure, grew = set(start), True
        while grew:
            grew = False
            for k, n in self.graph.items():
                if k not in closure and any(is_link(v) and v[0] in closure for v in n["inputs"].values()):
                    closure.add(k)
                    grew = True
        return closure

    def settings(self) -> dict:
        """model, t_boom, sampler, steps as the graph's per-item nodes set them (for the PNG metadata)."""
        out = {"model": self.model_name}
        for k in sorted(self.per_item):
            for name in SETTING_INPUTS:
                value = self.graph[k]["inputs"].get(name)
                key = "sampler" if name == "sampler_name" else name
                if value is not None and not is_link(value) and key not in out:
                    out[key] = value
        return out

    def _set_seeds(self, graph: dict, ids, seed: int):
        for k in ids:
            for name in SEED_INPUTS:
                if name in graph[k]["inputs"] and not is_link(graph[k]["inputs"][name]):
                    graph[k]["inputs"][name] = seed

    def single(self, image: str, seed: int) -> dict:
        """The graph of one item alone: its own seed, no BoomerangItemSeeds. A batched item equals this."""
        graph = _copy.deepcopy(self.graph)
        graph[self.load_id]["inputs"]["image"] = image
        if self.seeds_id is not None:
            source = graph.pop(self.seeds_id)["inputs"]["latent"]
            for n in graph.values():
                for name, v in n["inputs"].items():
                    if v == [self.seeds_id, 0]:
                        n["inputs"][name] = list(source)
        self._set_seeds(graph, self.per_item - {self.seeds_id}, seed)
        return graph

    def expand(self, images: list[str], seeds: list[int], prefix: str, classes: dict) -> tuple[dict, list]:
        """(graph, [(save node id, image index in its output)] per item) for a batch of items."""
        graph = _copy.deepcopy(self.graph)
        if self.seeds_id is not None:
            load = graph.pop(self.load_id)
            ids = []
            for k, image in enumerate(images):
                ids.append(f"{self.load_id}__{k}")
                graph[ids[-1]] = {**_copy.deepcopy(load), "inputs": {**load["inputs"], "image": image}}
            current = ids[0]
            for k in range(1, len(ids)):
                graph[f"{self.load_id}__batch{k}"] = api_node(classes, "ImageBatch", image1=[current, 0],
                                                              image2=[ids[k], 0])
                current = f"{self.load_id}__batch{k}"
            for n in graph.values():
                for name, v in n["inputs"].items():
                    if v == [self.load_id, 0]:
                        n["inputs"][name] = [current, 0]
            graph[self.seeds_id]["inputs"]["seeds"] = ",".join(str(s) for s in seeds)
            self._set_seeds(graph, self.per_item - {self.load_id, self.seeds_id}, 0)
            graph[self.save_id]["inputs"]["filename_prefix"] = f"{prefix}/batch"
            return graph, [(self.save_id, k) for k in range(len(images))]
        for nid in self.per_item:
            del graph[nid]
        where = []
        for k, (image, seed) in enumerate(zip(images, seeds)):
            for nid in self.per_item:
                node = _copy.deepcopy(self.graph[nid])
                for name, v in node["inputs"].items():
                    if is_link(v) and v[0] in self.per_item:
                        node["inputs"][name] = [f"{v[0]}__{k}", v[1]]
                    elif name in SEED_INPUTS and not is_link(v):
                        node["inputs"][name] = seed
                graph[f"{nid}__{k}"] = node
            graph[f"{self.load_id}__{k}"]["inputs"]["image"] = image
            graph[f"{self.save_id}__{k}"]["inputs"]["filename_prefix"] = f"{prefix}/item{k:04d}"
            where.append((f"{self.save_id}__{k}", 0))
        return graph, where


def _check_combo(classes: dict, class_type: str, name: str, value):
    spec = classes[class_type].INPUT_TYPES()["required"][name]
    options = spec[0] if isinstance(spec[0], list) else spec[1].get("options", [])
    if options and value not in options:
        raise ValueError(f"--{name} must be one of {', '.join(map(str, options))}; received {value!r}")


def preset_template(classes: dict, spec, model: ModelChoice) -> Template:
    """The anonymize / augment / upscale graph, every node made from the live schema (defaults filled in)."""
    sampler = spec.sampler or model.default_sampler
    _check_combo(classes, "PartialReverseSampler", "sampler", sampler)
    _check_combo(classes, "PartialReverseSampler", "scheduler", spec.scheduler)
    steps = spec.steps if spec.steps is not None else max(1, min(RECOMMENDED.steps, spec.t_boom or RECOMMENDED.steps))
    settings = {"cfg": spec.cfg if spec.cfg is not None else model.default_cfg, "sampler": sampler,
                "scheduler": spec.scheduler, "steps": steps}
    L = dict(model.links)
    graph = {k: api_node(classes, n["class_type"], **n["inputs"]) for k, n in model.nodes.items()}
    if spec.exact_batches and spec.preset in ("anonymize", "augment"):
        graph["per_item"] = api_node(classes, "BoomerangPerItemModel", model=L["model"])
        L["model"] = ["per_item", 0]
    sampling = {"model": L["model"], "positive": L["positive"], "negative": L["negative"]}
    graph["image"] = api_node(classes, "LoadImage", image="input.png")
    if spec.preset in ("anonymize", "augment"):
        # any image size: padded to the model's multiple here, cropped back after decoding
        graph["encode"] = api_node(classes, "BoomerangVAEEncode", pixels=["image", 0], vae=L["vae"], model=L["model"])
        graph["seeds"] = api_node(classes, SEEDS_NODE, latent=["encode", 0], seeds="0")
        graph["noise"] = api_node(classes, "BoomerangNoise", model=L["model"], latent=["seeds", 0],
                                  t_boom=spec.t_boom, seed=0)
        graph["reverse"] = api_node(classes, "PartialReverseSampler", **sampling, latent=["noise", 0], **settings,
                                    seed=0)
        graph["decode"] = api_node(classes, "BoomerangVAEDecode", samples=["reverse", 0], vae=L["vae"])
        last = "decode"
    else:
        graph["upscale"] = api_node(classes, "UpscaleThenBoomerang", image=["image", 0], vae=L["vae"], **sampling,
                                    factor=float(spec.factor), t_boom=spec.t_boom, **settings, seed=0)
        last = "upscale"
    graph["save"] = api_node(classes, "SaveImage", images=[last, 0], filename_prefix="boomerang-dataset")
    return Template(graph, "image", "save", model.name, f"preset {spec.preset}")


def workflow_template(classes: dict, path: Path) -> Template:
    """A user's workflow file (API format, UI format, or a /prompt payload) with exactly one LoadImage and one
    SaveImage; anything else is a ValueError that says what is missing or ambiguous."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"--workflow must be a ComfyUI workflow JSON file; {path} could not be read: {err}") from None
    if isinstance(data, dict) and "nodes" in data and "links" in data:
        data = ui_to_api(data, classes)
    elif isinstance(data, dict) and isinstance(data.get("prompt"), dict):
        data = data["prompt"]
    is_api = isinstance(data, dict) and data and all(isinstance(n, dict) and "class_type" in n for n in data.values())
    if not is_api:
        raise ValueError(f"--workflow must be an API-format workflow ({{id: {{class_type, inputs}}}}) or a UI "
                         f"workflow; received {path}")
    graph = {str(k): {"class_type": n["class_type"], "inputs": dict(n.get("inputs", {}))} for k, n in data.items()}
    found = {}
    for role in ("LoadImage", "SaveImage"):
        ids = sorted(k for k, n in graph.items() if n["class_type"] == role)
        if len(ids) != 1:
            what = "none" if not ids else f"{len(ids)} (node ids {', '.join(ids)}), which is ambiguous"
            raise ValueError(f"--workflow must have exactly one {role} node (the job's "
                             f"{'input' if role == 'LoadImage' else 'output'}); {path} has {what}")
        found[role] = ids[0]
    names = [n["inputs"].get(k) for n in graph.values() for k in ("ckpt_name", "model_name", "unet_name")
             if isinstance(n["inputs"].get(k), str)]
    template = Template(graph, found["LoadImage"], found["SaveImage"], names[0] if names else "", f"workflow "
                                                                                                  f"{path.name}")
    if found["SaveImage"] not in template._closure(image_only=True):
        raise ValueError(f"--workflow must save an image made from its LoadImage; in {path} the SaveImage (node "
                         f"{found['SaveImage']}) does not depend on the LoadImage (node {found['LoadImage']})")
    return template
