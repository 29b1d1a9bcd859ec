"""The real frontend in a real browser: ComfyUI's server (main.py --cpu) with the pack and the pinned frontend
package, Debian's Chromium driven by Playwright. Every shipped workflow is loaded through the UI, checked for
missing or red nodes, queued, and waited for; a screenshot of each goes to test-artifacts/browser/."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from testkit.runtime import tiny_checkpoint, write_photo

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("BOOMERANG_CHROMIUM", "/usr/bin/chromium")
SHOTS = REPO / "test-artifacts" / "browser"
NAMES = ["anonymize_faces", "anonymize_faces_in_photo", "pre_4x", "pre_8x", "pre_16x", "pre_cascade", "augment_dataset"]
BADGE = 24  # room above a node's title bar for the frontend's node-source badge
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def server(comfy):
    """ComfyUI's own server on a free loopback port, with the pack linked into its custom_nodes."""
    base = Path(tempfile.mkdtemp(prefix="boomerang-server-"))
    (base / "custom_nodes").mkdir()
    (base / "custom_nodes" / "comfyui-boomerang").symlink_to(REPO, target_is_directory=True)
    (base / "models" / "checkpoints").mkdir(parents=True)
    # The workflows name the SD1.5 checkpoint; here that name is the tiny generated one.
    ckpt = Path(comfy.folder_paths.get_full_path("checkpoints", tiny_checkpoint(comfy)))
    (base / "models" / "checkpoints" / "v1-5-pruned-emaonly.safetensors").symlink_to(ckpt)
    (base / "input").mkdir()
    # A 32 x 32 photo keeps the 16x workflow at 512 x 512 here; tests/test_workflows.py checks the exact sizes
    # of every workflow at 64 x 64 through the executor.
    photo = write_photo(base / "input", 32)
    shutil.copy(base / "input" / photo, base / "input" / "example.png")
    port = _free_port()
    log = open(base / "server.log", "w")
    proc = subprocess.Popen([sys.executable, str(comfy.root / "main.py"), "--cpu", "--listen", "127.0.0.1",
                             "--port", str(port), "--base-directory", str(base)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=str(comfy.root))
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ComfyUI server exited: {(base / 'server.log').read_text()[-3000:]}")
        try:
            if "BoomerangNoise" in _get(f"{url}/object_info/BoomerangNoise"):
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("ComfyUI server did not start within 120 s")
    # A fresh user: skip the first-run template browser, which would cover the canvas in the screenshots.
    req = urllib.request.Request(f"{url}/settings/Comfy.TutorialCompleted", data=b"true", method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).close()
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} missing: the setup installs Debian's chromium"
    profile = tempfile.mkdtemp(prefix="boomerang-chromium-")
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                       args=CHROME_ARGS, viewport={"width": 1280, "height": 800})
        pg = browser.pages[0] if browser.pages else browser.new_page()
        pg.goto(server)
        pg.wait_for_function("() => window.app && window.app.graph && window.LiteGraph", timeout=120_000)
        pg.wait_for_timeout(1500)
        pg.keyboard.press("Escape")  # the first-run template browser
        yield pg
        browser.close()


def _load(page, name: str):
    wf = json.loads((REPO / "workflows" / f"{name}.json").read_text())
    page.evaluate("async (wf) => { await window.app.loadGraphData(wf); }", wf)
    page.keyboard.press("Escape")
    page.wait_for_timeout(500)


def _problems(page):
    return page.evaluate("""() => {
        const known = window.LiteGraph.registered_node_types;
        const nodes = window.app.graph._nodes;
        return {
          missing: nodes.filter(n => !(n.type in known)).map(n => n.type),
          red: nodes.filter(n => n.has_errors).map(n => n.type),
          count: nodes.length,
        };
    }""")


def _rectangles(page):
    """Every node's rectangle as the frontend lays it out: [x, y, w, h] with the title bar (getBounding); the
    same from pos/size plus LiteGraph's title height as a cross-check; and that plus the strip above the title
    where the frontend draws a custom node's pack badge ("comfyui-boomerang", about 22 px high)."""
    return page.evaluate("""() => window.app.graph._nodes.map(n => {
        const th = window.LiteGraph.NODE_TITLE_HEIGHT;
        return {id: n.id, title: n.title, bounding: Array.from(n.getBounding()).slice(0, 4),
                own: [n.pos[0], n.pos[1] - th, n.size[0], n.size[1] + th],
                badge: [n.pos[0], n.pos[1] - th - BADGE, n.size[0], n.size[1] + th + BADGE]};
    })""".replace("BADGE", str(BADGE)))


def _overlaps(rects, key):
    bad = []
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            (ax, ay, aw, ah), (bx, by, bw, bh) = a[key], b[key]
            if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
                bad.append(f"{a['title']} #{a['id']} {a[key]} overlaps {b['title']} #{b['id']} {b[key]}")
    return bad


@pytest.mark.parametrize("name", NAMES)
def test_no_two_nodes_overlap_in_the_frontend(page, name):
    """Regression (issue 10): the note covered the positive prompt's title, Save Image nodes covered VAE Decode,
    and each strip row's Boomerang label ran under the next row's title bar."""
    _load(page, name)
    rects = _rectangles(page)
    assert len(rects) > 3
    assert _overlaps(rects, "bounding") == [] and _overlaps(rects, "own") == [] and _overlaps(rects, "badge") == []
    page.evaluate("() => window.app.extensionManager?.command?.execute?.('Comfy.Canvas.FitView')")
    page.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"layout_{name}.png"))


@pytest.mark.parametrize("name", NAMES)
def test_workflow_loads_queues_and_finishes_in_the_browser(server, page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    _load(page, name)
    before = _problems(page)
    assert before["missing"] == [] and before["red"] == [] and before["count"] > 3
    history_before = set(_get(f"{server}/history"))
    page.evaluate("async () => { await window.app.queuePrompt(0, 1); }")
    deadline = time.time() + 1200
    prompt_id = None
    while time.time() < deadline:
        new = set(_get(f"{server}/history")) - history_before
        if new:
            prompt_id = new.pop()
            break
        time.sleep(1.0)
    assert prompt_id, f"{name} did not finish within 1200 s"
    entry = _get(f"{server}/history/{prompt_id}")[prompt_id]
    assert entry["status"]["status_str"] == "success", entry["status"]
    images = [img for out in entry["outputs"].values() for img in out.get("images", [])]
    assert images, f"{name} produced no image"
    page.wait_for_timeout(500)
    after = _problems(page)
    assert after["missing"] == [] and after["red"] == []
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_t_boom_label_updates_when_the_widget_changes(page):
    _load(page, "augment_dataset")
    read = """(value) => {
        const node = window.app.graph._nodes.find(n => n.comfyClass === "Boomerang");
        const w = node.widgets.find(w => w.name === "t_boom");
        w.value = value; w.callback?.(value);
        window.app.graph.setDirtyCanvas(true, true);
        return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(node.boomerangLabel))));
    }"""
    assert page.evaluate(read, 400) == "t_boom 400/1000 (40%) - local sample · 20 model evaluations"
    assert page.evaluate(read, 1000) == "t_boom 1000/1000 (100%) - global sample · 20 model evaluations"
    assert page.evaluate(read, 0) == "t_boom 0/1000 (0%) - identity"
    _load(page, "pre_16x")
    label = page.evaluate("() => window.app.graph._nodes.find(n => n.comfyClass === 'UpscaleThenBoomerang').boomerangLabel")
    assert label == "t_boom auto 600/1000 (60%) - local sample · 20 model evaluations"
    page.screenshot(path=str(SHOTS / "label_pre_16x.png"))
