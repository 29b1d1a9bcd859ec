"""What the GPU check needs on a machine that has torch but not ComfyUI, in one ignored folder (issue 17).

    python -m benchmarks.gpu_setup prepare     # here, with PyPI (`make gpu-check-prepare`): fills .gpu-check/
    python -m benchmarks.gpu_setup install     # on the GPU machine, offline (`make gpu-check` runs it first)

``prepare`` copies ComfyUI's source without its frontend (only what an in-process boot reads) to
.gpu-check/comfyui, downloads wheels for the GPU machine's Python of exactly the packages it lacks to
.gpu-check/wheels (the list: ``needed_wheels``), writes .gpu-check/manifest.json and prints the travelling size
(git's files plus the folder) against the device tool's 64 MiB. ``install`` installs the wheels of the packages
the running Python lacks, with pip, offline and without resolving (so nothing already there is replaced).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / ".gpu-check"
CAP_BYTES = 64 * 2**20  # the device tool carries at most 64 MiB: the working tree plus the carried folders
log = logging.getLogger("boomerang.gpu_setup")

# The GPU machine (issue 17; /work/shared/notes/environment.md): its Python and the distributions it has.
TARGET_PYTHON = "3.12"
TARGET_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")  # torch 2.11: glibc 2.28
TARGET_MARKERS = {"python_version": TARGET_PYTHON, "python_full_version": TARGET_PYTHON + ".0", "os_name": "posix",
                  "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
                  "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
PRESENT = ("torch", "torchvision", "torchaudio", "transformers", "safetensors", "einops", "scipy", "scikit-image",
           "psutil", "aiohttp", "pyyaml", "tqdm", "opencv-python-headless")
# ComfyUI requirements that an in-process boot of ComfyUI 0.3.75 with init_api_nodes=False and this pack does not
# need (checked by booting with each one hidden), and why; the check uses none of them.
NOT_NEEDED = {
    "comfyui-frontend-package": "the web frontend: only the web server's routes read it",
    "comfyui-workflow-templates": "templates for the web frontend",
    "comfyui-embedded-docs": "node help pages for the web frontend",
    "alembic": "database migrations: only main.py's database start-up imports it",
    "sqlalchemy": "the same database",
    "sentencepiece": "tokenizers of text encoders the check never loads (transformers notes it missing and goes on)",
    "kornia": "only comfy_extras nodes_canny and nodes_morphology, which ComfyUI then skips with a warning",
    "spandrel": "only comfy_extras nodes_upscale_model, skipped likewise",
    "pydantic": "comfy_api_nodes (not loaded) and the optional pyproject parsing of custom nodes",
    "pydantic-settings": "the same pyproject parsing",
}
PACK_NEEDS = ("diffusers",)  # the built-in digits model (PixelDiffusionLoader), for the dataset part
COMFY_DIRS = ("comfy", "comfy_api", "comfy_execution", "comfy_extras", "comfy_config", "app", "utils", "api_server",
              "middleware")
COMFY_EXTRA_FILES = ("requirements.txt", "pyproject.toml", "LICENSE")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(lines) -> list[str]:
    """Distribution names of requirement lines (comments, blanks, versions and markers dropped)."""
    names = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(canonical(re.split(r"[\s<>=!~;\[(]", line, maxsplit=1)[0]))
    return names


def dependency_graph(names, markers: dict = TARGET_MARKERS) -> dict[str, list[str]]:
    """{distribution: its requirements on the target machine} for ``names`` and everything they pull in, read
    from this Python's installed metadata (a distribution not installed here counts as having none)."""
    import importlib.metadata

    from packaging.requirements import Requirement

    graph, todo = {}, [canonical(n) for n in names]
    while todo:
        name = todo.pop()
        if name in graph:
            continue
        try:
            reqs = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            reqs = []
        deps = []
        for text in reqs:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(markers):
                deps.append(canonical(req.name))
        graph[name] = deps
        todo.extend(deps)
    return graph


def closure(roots, graph: dict) -> set[str]:
    seen, todo = set(), [canonical(r) for r in roots]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def needed_wheels(comfy_requirements, graph: dict, present=PRESENT, not_needed=NOT_NEEDED,
                  pack_needs=PACK_NEEDS) -> list[str]:
    """The distributions to bring: ComfyUI's requirements the boot needs plus the pack's, with everything they
    require, less what the GPU machine has (its packages and everything those require)."""
    skip = {canonical(n) for n in not_needed}
    roots = [n for n in comfy_requirements if canonical(n) not in skip] + list(pack_needs)
    return sorted(closure(roots, graph) - closure(present, graph))


def copy_comfyui(source: Path, target: Path) -> Path:
    """ComfyUI's Python source (the packages an in-process boot imports and its top-level modules), without the
    frontend, models, tests, bytecode, or the data of text-encoder tokenizers the check never loads (it keeps
    comfy/sd1_tokenizer, which SD1.5 and SDXL checkpoints use)."""
    if not (source / "comfy" / "samplers.py").is_file():
        raise FileNotFoundError(f"no ComfyUI at {source} (run `python3 -m devtools.setup_env` or set COMFYUI_PATH)")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)

    def ignore(folder, names):
        drop = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
        if Path(folder).name == "text_encoders":
            drop |= {n for n in names if n.endswith("_tokenizer")}
        return drop

    for name in COMFY_DIRS:
        shutil.copytree(source / name, target / name, ignore=ignore)
    for path in sorted(source.glob("*.py")) + [source / n for n in COMFY_EXTRA_FILES if (source / n).is_file()]:
        shutil.copy2(path, target / path.name)
    return target


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def tree_bytes(repo: Path = REPO) -> int:
    """What the device tool copies of the working tree: tracked files and untracked files git does not ignore."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                         capture_output=True, check=True).stdout
    files = {repo / p.decode() for p in out.split(b"\0") if p}
    return sum(f.stat().st_size for f in files if f.is_file() and not f.is_symlink())


def download(names, wheels: Path) -> list[dict]:
    """Wheels for the GPU machine (CPython 3.12, manylinux x86-64), each at the version installed here."""
    import importlib.metadata

    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    pins = [f"{n}=={importlib.metadata.version(n)}" for n in names]
    platforms = [arg for p in TARGET_PLATFORMS for arg in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                    "--only-binary=:all:", "--no-deps", "--python-version", TARGET_PYTHON, "--implementation", "cp",
                    *platforms, "-d", str(wheels), *pins], check=True)
    rows = []
    for path in sorted(wheels.glob("*.whl")):
        name, version = path.name.split("-")[:2]
        rows.append({"file": path.name, "name": canonical(name), "version": version, "bytes": path.stat().st_size,
                     "requires": importlib.metadata.requires(canonical(name)) or []})
    return rows


def prepare(folder: Path = FOLDER, comfy: Path | None = None) -> dict:
    from headless.paths import comfyui_dir

    source = Path(comfy) if comfy else comfyui_dir()
    folder.mkdir(parents=True, exist_ok=True)
    copy_comfyui(source, folder / "comfyui")
    reqs = requirement_names((source / "requirements.txt").read_text().splitlines())
    names = needed_wheels(reqs, dependency_graph(reqs + list(PRESENT) + list(PACK_NEEDS)))
    log.info("wheels for the GPU machine: %s", ", ".join(names))
    wheels = download(names, folder / "wheels")
    sizes = {"comfyui": folder_bytes(folder / "comfyui"), "wheels": sum(w["bytes"] for w in wheels),
             "tree": tree_bytes()}
    manifest = {"python": TARGET_PYTHON, "comfyui_source": str(source), "wheels": wheels, "not_needed": NOT_NEEDED,
                "sizes": sizes}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    sizes["folder"] = folder_bytes(folder)
    return manifest


def size_report(manifest: dict, folder: Path = FOLDER) -> str:
    mib = lambda b: f"{b / 2**20:6.2f} MiB"  # noqa: E731 - a one-line table formatter
    s = manifest["sizes"]
    total = s["tree"] + s["folder"]
    lines = [f"{folder}: ComfyUI source {mib(s['comfyui'])}, wheels {mib(s['wheels'])}, folder {mib(s['folder'])}"]
    lines += [f"  {w['file']:<70} {mib(w['bytes'])}" for w in manifest["wheels"]]
    lines += [f"working tree (git's tracked and untracked-not-ignored files): {mib(s['tree'])}",
              f"travelling in all: {mib(total)} of {mib(CAP_BYTES)} "
              + ("(fits)" if total <= CAP_BYTES else "(TOO LARGE for the device tool)")]
    return "\n".join(lines)


def _installed(name: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _warn_conflicts(wheels: list[dict]) -> None:
    """Log each requirement of a brought wheel that the installed packages do not meet (needs ``packaging``)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:
        return
    for wheel in wheels:
        for text in wheel["requires"]:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate():
                continue
            have = _installed(req.name)
            if have is not None and req.specifier and not req.specifier.contains(have, prereleases=True):
                log.warning("%s %s asks for %s; installed: %s %s", wheel["name"], wheel["version"], text, req.name,
                            have)


def install(folder: Path = FOLDER) -> int:
    manifest = json.loads((folder / "manifest.json").read_text())
    todo = [w for w in manifest["wheels"] if _installed(w["name"]) is None]
    log.info("%d of %d brought wheels are missing here: %s", len(todo), len(manifest["wheels"]),
             ", ".join(w["name"] for w in todo) or "none")
    if todo:
        pip = [sys.executable, "-m", "pip"]
        if subprocess.run([*pip, "--version"], capture_output=True).returncode != 0:
            subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True)
        cmd = [*pip, "install", "--no-index", "--no-deps", "--disable-pip-version-check", "--no-warn-script-location"]
        files = [str(folder / "wheels" / w["file"]) for w in todo]
        if subprocess.run([*cmd, *files]).returncode != 0:  # one by one: a wheel that fails does not stop the others
            site = folder / "site"  # e.g. a read-only environment: beside it, on PYTHONPATH (make gpu-check sets it)
            failed = [f for f in files if subprocess.run([*cmd, f]).returncode != 0
                      and subprocess.run([*cmd, "--target", str(site), f]).returncode != 0]
            if failed:
                log.error("could not install %s; the parts that need them will fail", ", ".join(failed))
            if site.is_dir() and str(site) not in os.environ.get("PYTHONPATH", ""):
                log.warning("some wheels went to %s: put it on PYTHONPATH for the check", site)
    _warn_conflicts(manifest["wheels"])
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("prepare", "install", "size"))
    parser.add_argument("--folder", type=Path, default=FOLDER, help=f"default {FOLDER}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[gpu-setup] %(message)s")
    if args.action == "install":
        return install(args.folder)
    if args.action == "prepare":
        manifest = prepare(args.folder)
    else:
        manifest = json.loads((args.folder / "manifest.json").read_text())
        manifest["sizes"].update(folder=folder_bytes(args.folder), tree=tree_bytes())
    print(size_report(manifest, args.folder))  # noqa: T201 - the size report is the product
    return 0


if __name__ == "__main__":
    sys.exit(main())
