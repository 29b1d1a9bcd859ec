"""The shipped workflows: API twins match the UI files, and every workflow runs on the tiny checkpoint."""
import json
from pathlib import Path

import pytest
from PIL import Image

from devtools import workflow_format
from testkit.runtime import tiny_checkpoint, write_photo

REPO = Path(__file__).resolve().parent.parent

# 16x of a 32 px photo: a 512 px output keeps the suite's VAE work small; tiled 16x PRE of larger outputs is
# covered by tests/test_tiling.py (test_upscale_then_boomerang_tiles_a_large_latent).
PHOTO_SIZE = {"pre_16x": 32}
NAMES = ["anonymize_faces", "anonymize_faces_in_photo", "pre_4x", "pre_8x", "pre_16x", "pre_cascade", "augment_dataset"]
# SaveImage filename prefix -> (number of images, width, height) for a 64 x 64 input photo
EXPECTED = {
    "anonymize_faces": {"boomerang/anonymized_strip": (1, 5 * 64 + 4 * 8, 64)},
    "anonymize_faces_in_photo": {"boomerang/anonymized_faces": (1, 64, 64)},
    "pre_4x": {"boomerang/pre_4x": (1, 256, 256)},
    "pre_8x": {"boomerang/pre_8x": (1, 512, 512)},
    "pre_16x": {"boomerang/pre_16x": (1, 512, 512)},  # from a 32 px photo (see PHOTO_SIZE)
    "pre_cascade": {"boomerang/pre_cascade_final": (1, 256, 256), "boomerang/pre_cascade_pass": (6, 256, 256)},
    "augment_dataset": {f"augment/example_t250_seed{s}": (1, 64, 64) for s in (1000, 1001, 1002, 1003)},
}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", NAMES)
def test_api_twin_is_the_conversion_of_the_ui_file(comfy, name):
    ui = load(REPO / "workflows" / f"{name}.json")
    assert ui["version"] == 0.4 and ui["nodes"] and ui["links"]
    notes = [n for n in ui["nodes"] if n["type"] == "Note"]
    assert notes and "Change first" in notes[0]["widgets_values"][0] and "checkpoint" in notes[0]["widgets_values"][0]
    api = load(REPO / "workflows" / "api" / f"{name}.json")
    assert workflow_format.ui_to_api(ui, comfy.nodes.NODE_CLASS_MAPPINGS) == api


def test_converter_reads_links_widgets_and_seed_controls(comfy):
    """A hand-written UI node: widget values in definition order, the seed's control value skipped, a link."""
    ui = {"nodes": [
        {"id": 1, "type": "Note", "widgets_values": ["hi"]},
        {"id": 2, "type": "BoomerangNoise", "inputs": [{"name": "model", "link": 1}, {"name": "latent", "link": None}],
         "widgets_values": [123, 77, "randomize"]},
        {"id": 3, "type": "CheckpointLoaderSimple", "widgets_values": ["a.safetensors"], "mode": 0},
        {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["muted.safetensors"], "mode": 2}],
        "links": [[1, 3, 0, 2, 0, "MODEL"]]}
    api = workflow_format.ui_to_api(ui, comfy.nodes.NODE_CLASS_MAPPINGS)
    assert api == {"2": {"class_type": "BoomerangNoise", "inputs": {"model": ["3", 0], "t_boom": 123, "seed": 77},
                         "_meta": {"title": "BoomerangNoise"}},
                   "3": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a.safetensors"},
                         "_meta": {"title": "CheckpointLoaderSimple"}}}


@pytest.mark.parametrize("name", NAMES)
def test_workflow_runs_on_the_tiny_checkpoint(comfy, name):
    input_dir = Path(comfy.folder_paths.get_input_directory())
    photo = write_photo(input_dir, PHOTO_SIZE.get(name, 64))
    (input_dir / "example.png").write_bytes((input_dir / photo).read_bytes())
    graph = load(REPO / "workflows" / "api" / f"{name}.json")
    ckpt = tiny_checkpoint(comfy)
    for node in graph.values():
        if node["class_type"] == "CheckpointLoaderSimple":
            node["inputs"]["ckpt_name"] = ckpt
    outputs = comfy.run(graph)["_history"]["outputs"]
    saved = {}
    for node_id, out in outputs.items():
        if "images" not in out:  # Preview as Text: checked below
            continue
        prefix = graph[node_id]["inputs"]["filename_prefix"]
        output_dir = Path(comfy.folder_paths.get_output_directory())
        saved[prefix] = [Image.open(output_dir / i["subfolder"] / i["filename"]).size for i in out["images"]]
    assert {k: (len(v), *v[0]) for k, v in saved.items()} == EXPECTED[name]
    assert all(len(set(v)) == 1 for v in saved.values())
    if name == "anonymize_faces_in_photo":  # the report is shown by a Preview as Text node
        texts = [t for out in outputs.values() for t in out.get("text", [])]
        assert any(t.startswith("1 photo(s), 0 face(s)") and "photo 0: no face found - returned unchanged" in t
                   for t in texts), texts  # the face of the 64 px photo is below HOG's smallest
