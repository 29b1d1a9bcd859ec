"""The pack as ComfyUI sees it: registered node ids, schema texts, and no work at import time."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NODE_IDS = ["BoomerangNoise", "PartialReverseSampler", "CascadeLoop", "UpscaleThenBoomerang", "Boomerang",
            "BoomerangExactSampler", "BoomerangSigmas", "PixelDiffusionLoader", "BoomerangFaceDetect",
            "FaceIdentityDistance", "AnonymizeFaces"]
SELF_EXPLANATORY = {"model", "positive", "negative", "vae", "image", "latent"}


def test_nodes_are_registered_with_descriptions_and_tooltips(comfy):
    for node_id in NODE_IDS:
        cls = comfy.nodes.NODE_CLASS_MAPPINGS[node_id]
        schema = cls.GET_SCHEMA()
        assert schema.category == "sampling/boomerang"
        assert len(schema.description) > 40
        for inp in schema.inputs:
            if inp.id not in SELF_EXPLANATORY:
                assert inp.tooltip, f"{node_id}.{inp.id} has no tooltip"


def test_importing_the_pack_imports_nothing_from_comfyui():
    code = ("import importlib.util, sys; "
            f"spec = importlib.util.spec_from_file_location('pack', {str(REPO / '__init__.py')!r}, "
            f"submodule_search_locations=[{str(REPO)!r}]); "
            "m = importlib.util.module_from_spec(spec); sys.modules['pack'] = m; spec.loader.exec_module(m); "
            "bad = [k for k in sys.modules if k.split('.')[0] in ('comfy', 'comfy_api', 'torch')]; "
            "print(m.WEB_DIRECTORY, bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "./web []"
