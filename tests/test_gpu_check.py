"""The GPU check (benchmarks/gpu_check.py, issue 17) cannot rot: its package list, its copy of ComfyUI, its
full-size model configs, its report's headings, and a CPU smoke run that writes only into a temporary folder.
No GPU is needed; no timing is asserted."""
import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks import gpu_report, gpu_setup

REPO = Path(__file__).resolve().parent.parent


def test_wheel_list_is_what_the_boot_needs_less_what_the_gpu_machine_has():
    """A hand-made requirement graph: ComfyUI's needs plus the pack's, with their dependencies, less the GPU
    machine's packages and theirs; requirements the boot does not import are left out."""
    graph = {"torchsde": ["torch", "numpy", "scipy", "trampoline"], "kornia": ["kornia-rs", "torch"],
             "diffusers": ["requests", "numpy", "huggingface-hub", "importlib-metadata"],
             "importlib-metadata": ["zipp"], "transformers": ["huggingface-hub", "numpy", "requests"],
             "requests": ["urllib3", "idna"], "torch": ["filelock", "sympy"], "av": []}
    comfy = gpu_setup.requirement_names(["comfyui-frontend-package==1.32.9", "torch", "torchsde", "numpy>=1.25.0",
                                         "# non essential:", "", "kornia>=0.7.1", "av>=14.2.0", "Pillow"])
    assert comfy == ["comfyui-frontend-package", "torch", "torchsde", "numpy", "kornia", "av", "pillow"]
    wheels = gpu_setup.needed_wheels(comfy, graph, present=("torch", "transformers", "scipy", "numpy", "pillow"),
                                     not_needed={"comfyui-frontend-package": "", "kornia": ""},
                                     pack_needs=("diffusers",))
    assert wheels == ["av", "diffusers", "importlib-metadata", "torchsde", "trampoline", "zipp"]


def test_real_wheel_list_brings_the_boot_imports_and_nothing_the_machine_has():
    comfy = gpu_setup.requirement_names((_comfyui() / "requirements.txt").read_text().splitlines())
    graph = gpu_setup.dependency_graph(comfy + list(gpu_setup.PRESENT) + list(gpu_setup.PACK_NEEDS))
    wheels = set(gpu_setup.needed_wheels(comfy, graph))
    assert {"av", "torchsde", "trampoline", "diffusers"} <= wheels  # ComfyUI imports av and torchsde at start-up
    assert not wheels & {"torch", "torchvision", "torchaudio", "transformers", "numpy", "pillow", "safetensors",
                         "aiohttp", "comfyui-frontend-package", "kornia", "alembic", "sqlalchemy"}
    assert not any(w.startswith(("nvidia-", "triton")) for w in wheels)


def _comfyui() -> Path:
    from headless.paths import comfyui_dir

    return comfyui_dir()


def test_comfyui_copy_has_the_source_and_not_the_frontend_data(tmp_path):
    copy = gpu_setup.copy_comfyui(_comfyui(), tmp_path / "comfyui")
    for needed in ("nodes.py", "execution.py", "folder_paths.py", "comfy/samplers.py", "comfy_api/latest/__init__.py",
                   "comfy_extras/nodes_custom_sampler.py", "comfy/sd1_tokenizer/vocab.json", "utils/extra_config.py"):
        assert (copy / needed).is_file(), needed
    assert not list(copy.rglob("__pycache__"))
    assert not list((copy / "comfy" / "text_encoders").glob("*_tokenizer"))
    assert not (copy / "comfy_api_nodes").exists() and not (copy / "tests").exists()
    assert gpu_setup.folder_bytes(copy) < 8 * 2**20


def test_full_size_configs_are_the_published_sd15_and_sdxl(comfy):
    """ComfyUI's own detection names the configs SD15 and SDXL, and the UNets have the published parameter counts
    (SD1.5 859,520,964; SDXL 2,567,463,684), counted on the meta device."""
    import comfy.model_detection
    import comfy.supported_models

    from benchmarks import gpu_models

    for family, cls, params in (("sd15", comfy.supported_models.SD15, 859_520_964),
                                ("sdxl", comfy.supported_models.SDXL, 2_567_463_684)):
        detected = comfy.model_detection.model_config_from_unet_config(gpu_models.unet_config(family))
        assert type(detected) is cls
        assert gpu_models._count_parameters(family, "full") == params


def _results(smoke: bool) -> dict:
    cpu_rows = {"rows": [{"model": "digits", "config": "batch 1", "items": 4, "side": 16, "items_per_s": 111.0}],
                "cpu": "Test CPU", "cores": 16, "torch_threads": 16}
    gpu_rows = {"rows": [{"model": "digits", "config": "batch 1", "items": 8, "side": 16, "items_per_s": 999.0}]}
    return {"smoke": smoke, "budget_s": 450, "elapsed_s": 10, "estimates_s": {"oracle": 1, "sd15": 1, "sdxl": 1,
            "dataset_gpu": 1, "dataset_cpu": 1},
            "settings": {"input_px": 256, "native": {"sd15": 512, "sdxl": 1024}, "overlap": 64, "steps": 20,
                         "repeats": 5, "big_factor": 16, "big_steps": 4},
            "env": {"gpu": "Test GPU", "driver": "1", "cuda_runtime": "13.0", "torch": "2.11", "comfyui": "0.3.75",
                    "device": "cuda:0" if not smoke else "cpu", "cpu": "Test CPU", "cores": 16, "when": "now",
                    "python": "3.12"},
            "parts": {"dataset_gpu": gpu_rows, "dataset_cpu": cpu_rows}}


def test_report_keeps_cpu_figures_out_of_the_gpu_section():
    text = gpu_report.render(_results(smoke=False))
    gpu_part, cpu_part = text.split("## CPU comparison (CPU: Test CPU", 1)
    assert "## GPU: Test GPU, driver 1" in gpu_part and "999.00" in gpu_part
    assert "111.00" not in gpu_part and "111.00" in cpu_part  # the CPU's items/s only under the CPU heading
    assert "9.0x" in cpu_part  # 999 / 111
    smoke = gpu_report.render(_results(smoke=True))
    assert "## GPU" not in smoke and "CPU smoke run" in smoke.splitlines()[0]


def test_committed_page_is_a_cuda_run_with_cpu_figures_only_under_the_cpu_heading():
    """The committed page comes from the H200 run of 2026-12-04 (docs/gpu_check.json holds its raw numbers): its GPU
    heading names a CUDA device, and every CPU items/s figure of the JSON appears only under the CPU heading."""
    text = (REPO / "docs" / "BENCHMARKS_GPU.md").read_text()
    raw = json.loads((REPO / "docs" / "gpu_check.json").read_text())
    assert raw["env"]["device"].startswith("cuda") and not raw["smoke"]
    assert f"## GPU: {raw['env']['gpu']}" in text and "not measured" not in text
    gpu_part, cpu_part = text.split("## CPU comparison")
    for row in raw["parts"]["dataset_cpu"]["rows"]:
        line = f"| {row['model']} | {row['config']} | {row['items']} | {row['side']} px | {row['items_per_s']:.2f} |"
        assert line in cpu_part and line not in gpu_part
    for row in raw["parts"]["dataset_gpu"]["rows"]:
        assert f"| {row['model']} | {row['config']} | {row['items']} | {row['side']} px | {row['items_per_s']:.2f} |" \
            in gpu_part


def test_refuses_without_cuda_and_writes_nothing(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--out", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "CUDA only" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_smoke_run_on_the_copied_comfyui_without_the_unneeded_packages(tmp_path):
    """The whole script on tiny models on the CPU, booting the ComfyUI copy that travels to the GPU machine, with
    every package the wheel list leaves out hidden (as if not installed), writing only into its folder."""
    doc = REPO / "docs" / "BENCHMARKS_GPU.md"
    before = doc.read_bytes()
    copy = gpu_setup.copy_comfyui(_comfyui(), tmp_path / "comfyui")
    out = tmp_path / "out"
    hidden = [name.replace("-", "_") for name in gpu_setup.NOT_NEEDED]  # their import names
    script = ("import runpy, sys\n"
              f"for name in {hidden!r}:\n"
              "    sys.modules[name] = None  # import fails, importlib.util.find_spec says absent\n"
              f"sys.argv = ['gpu_check', '--smoke-cpu', '--out', {str(out)!r}]\n"
              "runpy.run_module('benchmarks.gpu_check', run_name='__main__')\n")
    env = dict(os.environ, COMFYUI_PATH=str(copy))
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "gpu_check.json").read_text())
    assert set(results["parts"]) == {"oracle", "sd15", "sdxl", "dataset_gpu", "dataset_cpu"}
    flat = json.dumps(results["parts"])
    assert '"failed"' not in flat and '"skipped"' not in flat, flat[:3000]
    assert results["parts"]["sd15"]["upscale"]["output_shape"] == [1, 64, 64, 3]  # 16 px x 4
    assert results["parts"]["sdxl"]["tiled"]["on"]["seconds"] > 0
    for side in ("dataset_gpu", "dataset_cpu"):
        items = 2 if side == "dataset_gpu" else 1  # the smoke plan: 2 images in the run's process, 1 in the CPU child
        assert [(r["items"], r["items_failed"]) for r in results["parts"][side]["rows"]] == [(items, 0)]
    assert results["parts"]["oracle"]["rows"][0]["model_calls"] == 20  # boomerang_exact: one call per step of t_boom
    text = (out / "BENCHMARKS_GPU.md").read_text()
    assert "## GPU" not in text and "CPU smoke run" in text
    assert doc.read_bytes() == before
