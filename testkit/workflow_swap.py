"""Run a shipped API workflow on tiny models: its loader and text-encode nodes are swapped, by node id, for the
test pack's BoomerangTestObject, which hands out in-memory objects (testkit/families.py,
testkit/families_video.py). Every other node and link stays as shipped; links that read a swapped node are pointed
at the test node's output of the same type (MODEL, VAE, positive or negative CONDITIONING).

Text encoders (T5-XXL, Qwen2.5-VL, UMT5) cannot be built on a CPU test machine, so the prompts come in as the
tiny family's own random conditioning; nodes between the encoder and the sampler (Flux Guidance, ...) still run.
"""
from __future__ import annotations

import copy

LOADERS = {"CheckpointLoaderSimple", "UNETLoader", "VAELoader"}
TEXT_LOADERS = {"CLIPLoader", "DualCLIPLoader"}  # only ever read by the encoders: dropped with them
ENCODERS = {"CLIPTextEncode"}
OBJECT_SLOT = {"MODEL": 0, "VAE": 1, "positive": 2, "negative": 3}  # BoomerangTestObject's outputs


def _is_link(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def swapped(graph: dict, node_classes: dict, key: str, steps: int | None = None) -> tuple[dict, set]:
    """(the graph with tiny models, the ids of the swapped nodes). ``steps``: fewer sampler steps (CPU time)."""
    out = copy.deepcopy(graph)
    slots: dict[str, dict[int, int]] = {}
    for node_id, node in graph.items():
        kind = node["class_type"]
        if kind in TEXT_LOADERS:
            del out[node_id]
            continue
        if kind in LOADERS:
            slots[node_id] = {i: OBJECT_SLOT[t] for i, t in enumerate(node_classes[kind].RETURN_TYPES)
                              if t in OBJECT_SLOT}
        elif kind in ENCODERS:
            role = "negative" if "negative" in node["_meta"]["title"].lower() else "positive"
            slots[node_id] = {0: OBJECT_SLOT[role]}
        else:
            continue
        out[node_id] = {"class_type": "BoomerangTestObject", "inputs": {"key": key},
                        "_meta": {"title": f"tiny {key} for {kind}"}}
    for node_id, node in out.items():
        for name, value in node["inputs"].items():
            if _is_link(value) and value[0] in slots:
                node["inputs"][name] = [value[0], slots[value[0]][value[1]]]  # KeyError: a CLIP read elsewhere
            elif _is_link(value):
                assert value[0] in out, f"{node_id}.{name} reads dropped node {value[0]}"
        if steps is not None and "steps" in node["inputs"] and not _is_link(node["inputs"]["steps"]):
            node["inputs"]["steps"] = steps
    return out, set(slots)


def capture_images(graph: dict, savers=("SaveImage", "CreateVideo")) -> dict[str, str]:
    """Add a BoomerangTestCapture on the IMAGE input of every save node; {capture tag: saver node id}."""
    tags = {}
    for node_id, node in list(graph.items()):
        if node["class_type"] in savers:
            tag = f"images_{node_id}"
            graph[f"cap_{node_id}"] = {"class_type": "BoomerangTestCapture",
                                       "inputs": {"tag": tag, "image": node["inputs"]["images"]}}
            tags[tag] = node_id
    return tags
