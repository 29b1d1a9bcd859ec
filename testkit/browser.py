"""The real frontend in a real browser, for tests/test_browser.py: ComfyUI's own server (main.py --cpu) with the pack
linked into its custom_nodes, serving either the frontend ComfyUI's requirements pin or another unpacked
comfyui-frontend-package (--front-end-root), and page helpers that read what the frontend shows."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from testkit.dev_assets import write_clip
from testkit.runtime import tiny_checkpoint, write_photo

REPO = Path(__file__).resolve().parents[1]
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]
BADGE = 24  # room above a node's title bar for the frontend's node-source badge
LEVEL_NODES = ["BoomerangNoise", "PartialReverseSampler", "CascadeLoop", "UpscaleThenBoomerang",
               "UpscaleClipThenBoomerang", "Boomerang", "BoomerangSigmas"]
FACE_NODES = ["BoomerangFaceDetect", "FaceIdentityDistance", "AnonymizeFaces"]


def get_json(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def post_setting(url: str, key: str, value) -> None:
    req = urllib.request.Request(f"{url}/settings/{key}", data=json.dumps(value).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    base: Path
    log: object = field(repr=False)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


LOADER_FOLDERS = {"CheckpointLoaderSimple": "checkpoints", "UNETLoader": "diffusion_models", "VAELoader": "vae",
                  "CLIPLoader": "text_encoders", "DualCLIPLoader": "text_encoders"}


def _model_placeholders(models: Path) -> None:
    """An empty file for every model file a shipped workflow names (the frontend marks a loader whose file is not
    listed); only the SD1.5 workflows are queued, on the tiny checkpoint linked under their file name."""
    for twin in sorted((REPO / "workflows" / "api").glob("*.json")):
        for node in json.loads(twin.read_text()).values():
            folder = LOADER_FOLDERS.get(node["class_type"])
            for value in node["inputs"].values() if folder else ():
                if isinstance(value, str) and value.endswith(".safetensors"):
                    path = models / folder / value
                    path.parent.mkdir(parents=True, exist_ok=True)
                    if not path.exists():
                        path.touch()


def start_server(comfy, front_end_root: Path | None = None) -> Server:
    """ComfyUI's server on a free loopback port; ``front_end_root`` None serves the pinned frontend package."""
    base = Path(tempfile.mkdtemp(prefix="boomerang-server-"))
    (base / "custom_nodes").mkdir()
    (base / "custom_nodes" / "comfyui-boomerang").symlink_to(REPO, target_is_directory=True)
    (base / "models" / "checkpoints").mkdir(parents=True)
    # The workflows name the SD1.5 checkpoint; here that name is the tiny generated one.
    ckpt = Path(comfy.folder_paths.get_full_path("checkpoints", tiny_checkpoint(comfy)))
    (base / "models" / "checkpoints" / "v1-5-pruned-emaonly.safetensors").symlink_to(ckpt)
    _model_placeholders(base / "models")
    (base / "input").mkdir()
    write_clip(base / "input" / "example.mp4")  # the Wan clip workflows' Load Video
    # A 32 x 32 photo keeps the 16x workflow at 512 x 512 here; tests/test_workflows.py checks the exact sizes
    # of every workflow at 64 x 64 through the executor.
    photo = write_photo(base / "input", 32)
    shutil.copy(base / "input" / photo, base / "input" / "example.png")
    port = _free_port()
    log = open(base / "server.log", "w")
    cmd = [sys.executable, str(comfy.root / "main.py"), "--cpu", "--listen", "127.0.0.1", "--port", str(port),
           "--base-directory", str(base)]
    if front_end_root is not None:
        assert (front_end_root / "index.html").is_file(), f"{front_end_root}: run scripts/setup_env.py"
        cmd += ["--front-end-root", str(front_end_root)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(comfy.root))
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ComfyUI server exited: {(base / 'server.log').read_text()[-3000:]}")
        try:
            if "BoomerangNoise" in get_json(f"{url}/object_info/BoomerangNoise"):
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("ComfyUI server did not start within 120 s")
    # A fresh user: skip the first-run template browser, which would cover the canvas in the screenshots.
    post_setting(url, "Comfy.TutorialCompleted", True)
    return Server(url, proc, base, log)


def load_workflow(page, name: str) -> None:
    wf = json.loads((REPO / "workflows" / f"{name}.json").read_text())
    page.evaluate("async (wf) => { await window.app.loadGraphData(wf); }", wf)
    page.keyboard.press("Escape")
    page.wait_for_timeout(500)


def fit_view(page) -> None:
    page.evaluate("""() => {
        const cmd = window.app.extensionManager?.command;
        if (cmd?.execute) return cmd.execute('Comfy.Canvas.FitView');
        window.app.canvas.ds.reset?.();
    }""")
    page.wait_for_timeout(600)


def problems(page) -> dict:
    return page.evaluate("""() => {
        const known = window.LiteGraph.registered_node_types;
        const nodes = window.app.graph._nodes;
        return {
          missing: nodes.filter(n => !(n.type in known)).map(n => n.type),
          red: nodes.filter(n => n.has_errors).map(n => n.type),
          count: nodes.length,
        };
    }""")


def shown_texts(page, widget: str, types: list[str]) -> list[dict]:
    """For every node of ``types``: what the pack computed (``expected``: node.boomerangLabel or the report lines)
    and what the page shows as text in the widget's element (``shown``: its innerText, '' when none is visible)."""
    return page.evaluate("""([widget, types]) => window.app.graph._nodes
        .filter(n => types.includes(n.comfyClass))
        .map(n => {
          const w = n.widgets?.find(w => w.name === widget);
          const el = w?.element;
          const r = el?.getBoundingClientRect();
          const visible = !!el && el.isConnected && r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0
              && r.top < innerHeight && r.left < innerWidth && getComputedStyle(el).visibility !== 'hidden';
          const expected = widget === 'boomerang_level' ? n.boomerangLabel : (n.boomerangReport ?? []).join('\\n');
          return {id: String(n.id), type: n.comfyClass, expected, shown: visible ? el.innerText.trim() : '',
                  clientHeight: el ? el.clientHeight : 0, scrollHeight: el ? el.scrollHeight : 0};
        })""", [widget, types])


def prompt(page) -> dict:
    """The API prompt the frontend builds for the loaded graph: {id: {class_type, inputs}}."""
    return page.evaluate("""async () => {
        const {output} = await window.app.graphToPrompt();
        return Object.fromEntries(Object.entries(output).map(([k, v]) => [k, {class_type: v.class_type,
                                                                                inputs: v.inputs}]));
    }""")


def rectangles(page) -> list[dict]:
    """Every node's rectangle as the frontend lays it out: [x, y, w, h] with the title bar (getBounding); the
    same from pos/size plus LiteGraph's title height as a cross-check; and that plus the strip above the title
    where the frontend draws a custom node's pack badge ("comfyui-boomerang", about 22 px high)."""
    return page.evaluate("""() => window.app.graph._nodes.map(n => {
        const th = window.LiteGraph.NODE_TITLE_HEIGHT;
        return {id: n.id, title: n.title, bounding: Array.from(n.getBounding()).slice(0, 4),
                own: [n.pos[0], n.pos[1] - th, n.size[0], n.size[1] + th],
                badge: [n.pos[0], n.pos[1] - th - BADGE, n.size[0], n.size[1] + th + BADGE]};
    })""".replace("BADGE", str(BADGE)))


def overlaps(rects: list[dict], key: str) -> list[str]:
    bad = []
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            (ax, ay, aw, ah), (bx, by, bw, bh) = a[key], b[key]
            if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
                bad.append(f"{a['title']} #{a['id']} {a[key]} overlaps {b['title']} #{b['id']} {b[key]}")
    return bad
