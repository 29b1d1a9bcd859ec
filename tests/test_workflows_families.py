"""The workflows made for SDXL, Flux dev, Qwen-Image and Wan 2.2 5B run through ComfyUI's executor, as shipped, on
tiny random models of each family (testkit/workflow_swap.py swaps only the loader and text-encode nodes).

Smaller than a user's run, in the swapped copy only: a 32 px photo, a 5-frame 32 px clip, 4 sampler steps.
"""
import json
import math
from pathlib import Path

import pytest
import torch

from devtools import workflow_format
from testkit import families, families_video
from testkit.dev_assets import write_clip
from testkit.runtime import TEST_PACK, write_photo
from testkit.workflow_swap import capture_images, swapped

REPO = Path(__file__).resolve().parent.parent

SIZE, FRAMES, STEPS = 32, 5, 4
FAMILY_OF = {"sdxl": "sdxl", "flux_dev": "flux_dev", "qwen_image": "qwen_image", "wan22": "wan22"}
NAMES = [f"{f}_{w}" for f in FAMILY_OF for w in ("pre_4x", "variations")] + ["wan22_clip_variation",
                                                                              "wan22_clip_pre_4x"]
# SaveImage / CreateVideo node title -> IMAGE shape it receives: (items, height, width)
STRIP = (1, SIZE, 5 * SIZE + 4 * 8)  # original | 4 variations, 8 px spacing
EXPECTED = {**{f"{f}_pre_4x": (1, 4 * SIZE, 4 * SIZE) for f in FAMILY_OF},
            **{f"{f}_variations": STRIP for f in FAMILY_OF},
            "wan22_clip_variation": (FRAMES, SIZE, SIZE), "wan22_clip_pre_4x": (FRAMES, 4 * SIZE, 4 * SIZE)}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def _objects(name: str) -> dict:
    if name == "wan22":
        fam = families_video.build("wan22")
        return {"model": fam.model, "vae": fam.vae(), "positive": fam.positive, "negative": fam.negative}
    fam = families.build(name)
    return {"model": fam.model, "vae": families.vae_for(name), "positive": fam.positive, "negative": fam.negative}


@pytest.fixture(scope="module")
def tiny(comfy):
    """The tiny family objects, built once; registered with the test pack under the family's key."""
    objects = comfy.pack_module(TEST_PACK.name).OBJECTS
    made = []

    def get(key: str) -> str:
        if key not in made:
            objects[key] = _objects(FAMILY_OF[key])
            made.append(key)
        return key

    yield get
    for key in made:
        objects.pop(key, None)


@pytest.mark.parametrize("name", NAMES)
def test_family_workflow_api_twin_and_note(comfy, name):
    ui = load(REPO / "workflows" / f"{name}.json")
    assert workflow_format.ui_to_api(ui, comfy.nodes.NODE_CLASS_MAPPINGS) == load(REPO / "workflows" / "api" /
                                                                                  f"{name}.json")
    text = next(n for n in ui["nodes"] if n["type"] == "Note")["widgets_values"][0]
    assert "Change first" in text and "cfg" in text and "t_boom" in text and "models/" in text


@pytest.mark.parametrize("name", NAMES)
def test_family_workflow_runs_on_tiny_models(comfy, tiny, name):
    input_dir = Path(comfy.folder_paths.get_input_directory())
    (input_dir / "example.png").write_bytes((input_dir / write_photo(input_dir, SIZE)).read_bytes())
    if "clip" in name:
        write_clip(input_dir / "example.mp4", FRAMES, SIZE, fps=8)
    shipped = load(REPO / "workflows" / "api" / f"{name}.json")
    classes = comfy.nodes.NODE_CLASS_MAPPINGS
    family = next(f for f in FAMILY_OF if name.startswith(f))
    graph, swapped_ids = swapped(shipped, classes, tiny(family), steps=STEPS)
    # The shipped graph is what runs: every node but the swapped loaders/encoders, with its inputs as shipped
    # (links to swapped nodes re-pointed, steps reduced).
    for node_id, node in shipped.items():
        if node_id in swapped_ids or node["class_type"] in ("CLIPLoader", "DualCLIPLoader"):
            continue
        assert graph[node_id]["class_type"] == node["class_type"]
        for key, value in node["inputs"].items():
            if key != "steps" and not (isinstance(value, list) and value[0] in swapped_ids):
                assert graph[node_id]["inputs"][key] == value, (node_id, key)
    tags = capture_images(graph)
    result = comfy.run(graph)
    assert len(tags) == 1
    image = result[next(iter(tags))]["image"]
    assert tuple(image.shape) == (*EXPECTED[name], 3), tuple(image.shape)
    assert torch.isfinite(image).all() and 0.0 <= float(image.min()) <= float(image.max()) <= 1.0
    saved = [f for out in result["_history"]["outputs"].values() for f in out.get("images", [])]
    assert len(saved) == 1
    path = Path(comfy.folder_paths.get_output_directory()) / saved[0]["subfolder"] / saved[0]["filename"]
    if "clip" in name:  # the saved video: every frame, at the source's frame rate
        import av

        with av.open(str(path)) as video:
            stream = video.streams.video[0]
            frames = list(video.decode(stream))
            assert (len(frames), frames[0].height, frames[0].width) == EXPECTED[name]
            assert math.isclose(float(stream.average_rate), 8.0)
    else:
        from PIL import Image

        assert Image.open(path).size == EXPECTED[name][:0:-1]
