"""The pack as ComfyUI sees it: registered node ids, schema texts, and no work at import time."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NODE_IDS = ["BoomerangNoise", "PartialReverseSampler", "CascadeLoop", "UpscaleThenBoomerang", "Boomerang",
            "BoomerangExactSampler", "BoomerangFastSampler", "BoomerangSigmas", "PixelDiffusionLoader",
            "BoomerangItemSeeds", "BoomerangPerItemModel", "BoomerangTiledModel",
            "BoomerangFaceDetect", "FaceIdentityDistance", "AnonymizeFaces", "BoomerangVAEEncode", "BoomerangVAEDecode",
            "UpscaleClipThenBoomerang"]
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


def test_registry_validation_passes_without_warnings(tmp_path):
    """`comfy node validate` (comfy-cli from PyPI, the Registry's own check), from the venv setup_env.py makes."""
    import os

    import pytest

    from headless.paths import cache_dir

    comfy_cli = cache_dir() / "comfy-cli-venv" / "bin" / "comfy"
    if not comfy_cli.is_file():
        pytest.fail(f"{comfy_cli} is missing: run `python3 -m devtools.setup_env` (make test does)")
    home = tmp_path / "home"  # a fresh comfy-cli config: no prompt, tracking off, the user's config untouched
    home.mkdir()
    proc = subprocess.run([str(comfy_cli), "--skip-prompt", "node", "validate"], cwd=REPO, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL, env={**os.environ, "HOME": str(home)})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "All validation checks passed successfully" in output and "warning" not in output.lower(), output
    assert "enable_tracking = False" in (home / ".config" / "comfy-cli" / "config.ini").read_text()
    assert (REPO / "LICENSE").read_text().startswith("MIT License")


def test_headless_executor_fits_both_comfyui_signatures(tmp_path):
    """Regression: ComfyUI 0.3.64's PromptExecutor takes cache_size, 0.3.75's cache_args; the headless runtime
    passed cache_args always, so every graph failed on 0.3.64 with a TypeError. (A keyword the signature lacks
    is never passed, whatever main.py says; tests/test_compat.py checks each release's main.py.)"""
    import types

    import headless

    (tmp_path / "main.py").write_text('e = execution.PromptExecutor(server_instance, cache_type=cache_type, '
                                      'cache_args={"lru": args.cache_lru, "ram": args.cache_ram})\n')

    class Executor0364:
        def __init__(self, server, cache_type=False, cache_size=None):
            self.seen = (cache_type, cache_size)

    class Executor0375:
        def __init__(self, server, cache_type=False, cache_args=None):
            self.seen = (cache_type, cache_args)

    rt = headless.ComfyRuntime.__new__(headless.ComfyRuntime)
    rt.root = tmp_path  # a ComfyUI root whose main.py builds the executor as 0.3.75's does
    cases = ((Executor0364, ("classic", None)), (Executor0375, ("classic", {"lru": 0, "ram": 0})))
    for executor_class, expected in cases:
        rt.execution = types.SimpleNamespace(PromptExecutor=executor_class,
                                             CacheType=types.SimpleNamespace(CLASSIC="classic"))
        assert rt._new_executor(object()).seen == expected
