"""The real frontend in a real browser: ComfyUI's server (main.py --cpu) with the pack, Debian's Chromium driven by
Playwright, in three configurations: the frontend ComfyUI 0.3.75 pins (1.32.9) and the newest one (setup_env unpacks
comfyui-frontend-package NEWEST_FRONTEND; served with --front-end-root), the latter both in the classic canvas and in
"Nodes 2.0" (setting Comfy.VueNodes.Enabled). Every shipped workflow is loaded in each (those for other model
families in the newest frontend's two renderers): no missing or red node, the t_boom level line shown as text on every
Boomerang node, the API prompt the frontend builds equal to the workflow's API twin. Each configuration queues the
workflows of QUEUED and waits for them; the face reports must then be shown as text. The help page of every node
opens. Screenshots go to test-artifacts/browser/."""
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import pytest

from boomerang.advice import RECOMMENDED
from headless.paths import NEWEST_FRONTEND, frontend_root
from testkit.browser import (
    CHROME_ARGS,
    FACE_NODES,
    LEVEL_NODES,
    REPO,
    fit_view,
    get_json,
    load_workflow,
    overlaps,
    post_setting,
    problems,
    prompt,
    rectangles,
    shown_texts,
    start_server,
)

CHROMIUM = os.environ.get("BOOMERANG_CHROMIUM", "/usr/bin/chromium")
SHOTS = REPO / "test-artifacts" / "browser"
NAMES = ["anonymize_faces", "anonymize_faces_in_photo", "pre_4x", "pre_8x", "pre_16x", "pre_cascade", "augment_dataset"]
FACES = ["anonymize_faces_in_photo"]  # the workflows with face nodes
# (frontend, renderer): "pinned" is the frontend package ComfyUI's requirements.txt pins (1.32.9 for 0.3.75).
CONFIGS = ["pinned-classic", f"{NEWEST_FRONTEND}-classic", f"{NEWEST_FRONTEND}-nodes2"]
# The pinned frontend runs every workflow (as before the newest one came); the newest runs the face workflow and one
# Boomerang workflow in each renderer (in this order the face nodes run again for the second renderer: ComfyUI's
# cache keeps only the previous prompt's results, and a cached node sends its report to no page). Every prompt of
# every configuration is checked against the workflow's API twin, which tests/test_workflows.py executes.
NEWEST_QUEUED = FACES + ["pre_4x"]
QUEUED = {CONFIGS[0]: NAMES, CONFIGS[1]: NEWEST_QUEUED, CONFIGS[2]: NEWEST_QUEUED}
# More configurations on demand, e.g. the frontend ComfyUI 0.3.64 pins: `python -m devtools.setup_env
# --frontend=1.27.10`, then `BOOMERANG_BROWSER_CONFIGS=1.27.10-classic COMFYUI_PATH=<0.3.64 tree> pytest
# tests/test_browser.py`. They run everything the newest frontend runs, the family workflows included.
EXTRA_CONFIGS = os.environ.get("BOOMERANG_BROWSER_CONFIGS", "").split()
CONFIGS += EXTRA_CONFIGS
QUEUED.update({config: NEWEST_QUEUED for config in EXTRA_CONFIGS})

# The workflows made for other families (issue 18) load in the newest frontend, both renderers (the node types are the
# same in every configuration; all ten also passed in the pinned 1.32.9 when run there, about 15 s more;
# tests/test_workflows_families.py executes their API twins).
FAMILY_NAMES = [f"{f}_{w}" for f in ("sdxl", "flux_dev", "qwen_image", "wan22") for w in ("pre_4x", "variations")] + [
    "wan22_clip_variation", "wan22_clip_pre_4x"]
FAMILY_CONFIGS = CONFIGS[1:]  # with EXTRA_CONFIGS


@pytest.fixture(scope="module")
def servers(comfy):
    started = {}

    def get(frontend: str):
        if frontend not in started:
            root = None if frontend == "pinned" else frontend_root(frontend)
            started[frontend] = start_server(comfy, root)
        return started[frontend]

    yield get
    for server in started.values():
        server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} missing: the setup installs Debian's chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)
        yield b
        b.close()


class UI:
    def __init__(self, config, server, page):
        self.config, self.server, self.page = config, server, page
        self.url = server.url

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{self.config}_{name}.png"))


@pytest.fixture(scope="module", params=CONFIGS)
def ui(request, servers, browser):
    config = request.param
    frontend, renderer = config.rsplit("-", 1)
    server = servers(frontend)
    post_setting(server.url, "Comfy.VueNodes.Enabled", renderer == "nodes2")
    # Screenshots of the whole canvas: no minimap over it, no side panel left open by the previous configuration.
    post_setting(server.url, "Comfy.Minimap.Visible", False)
    post_setting(server.url, "Comfy.RightSidePanel.IsOpen", False)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    # Only the loopback: the frontend's calls to outside sites (release notes, fonts, telemetry) fail at once.
    context.route(lambda url: not url.startswith(server.url), lambda route: route.abort())
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url)
    page.wait_for_function("() => window.app && window.app.graph && window.LiteGraph", timeout=120_000)
    page.wait_for_timeout(1500)
    page.keyboard.press("Escape")  # the first-run template browser
    version = page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__ ?? ''")
    assert version == (metadata.version("comfyui-frontend-package") if frontend == "pinned" else frontend)
    vue = page.evaluate("() => !!window.app.extensionManager?.setting?.get?.('Comfy.VueNodes.Enabled')")
    assert vue == (renderer == "nodes2")
    yield UI(config, server, page)
    assert [e for e in errors if "boomerang" in e.lower()] == []
    context.close()


def _level_lines_shown(ui, name: str) -> list[dict]:
    rows = shown_texts(ui.page, "boomerang_level", LEVEL_NODES)
    assert bool(rows) == (name not in FACES), rows  # the face workflow has no node with a level line
    for row in rows:
        # before a run the frontend's own line (t_boom ...); after one the server's (the model's own terms)
        assert row["expected"].startswith(("t_boom", "timestep", "flow time")), row
        assert row["shown"] == row["expected"], f"{ui.config}: level line of {row['type']} #{row['id']}: {row}"
        assert row["scrollHeight"] <= row["clientHeight"] + 1, f"{ui.config}: level line clipped: {row}"
    return rows


def _declared_inputs(ui, api: dict) -> dict:
    """The prompt without inputs its node types do not declare (frontend 1.32.9 sends PreviewAny's display text as
    'preview'; ComfyUI ignores such inputs)."""
    out = {}
    for node_id, node in api.items():
        info = get_json(f"{ui.url}/object_info/{node['class_type']}")[node["class_type"]]["input"]
        declared = {**info.get("required", {}), **info.get("optional", {})}
        out[node_id] = {**node, "inputs": {k: v for k, v in node["inputs"].items() if k in declared}}
    return out


@pytest.mark.parametrize("name", NAMES + FAMILY_NAMES)
def test_workflow_loads_with_its_level_lines_in_the_frontend(ui, name):
    """No missing or red node; every Boomerang node shows its level line as text (issue 17: Nodes 2.0 showed none);
    the prompt the frontend builds is the workflow's API twin (the text widgets add nothing to it); in the classic
    canvas no two nodes overlap (issue 10: the note covered a title, labels ran under the next row's title)."""
    if name in FAMILY_NAMES and ui.config not in FAMILY_CONFIGS:
        pytest.skip(f"the family workflows load in {FAMILY_CONFIGS} only")
    load_workflow(ui.page, name)
    found = problems(ui.page)
    assert found["missing"] == [] and found["red"] == [] and found["count"] > 3, found
    twin = json.loads((REPO / "workflows" / "api" / f"{name}.json").read_text())
    assert _declared_inputs(ui, prompt(ui.page)) == {k: {"class_type": v["class_type"], "inputs": v["inputs"]}
                                                    for k, v in twin.items()}
    if ui.config.endswith("-classic"):
        rects = rectangles(ui.page)
        assert overlaps(rects, "bounding") == [] and overlaps(rects, "own") == [] and overlaps(rects, "badge") == []
    fit_view(ui.page)
    ui.shot(f"layout_{name}")
    _level_lines_shown(ui, name)


# Set widgets as both renderers' widgets do on an edit (the classic canvas's and Nodes 2.0's update handler: value,
# then the widget's callback), then let two frames pass.
SET_WIDGETS = """([type, values]) => {
    const node = window.app.graph._nodes.find(n => n.comfyClass === type);
    for (const [name, value] of Object.entries(values)) {
        const w = node.widgets.find(w => w.name === name);
        w.value = value; w.callback?.(value, window.app.canvas, node);
    }
    window.app.graph.setDirtyCanvas(true, true);
    return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r())));
}"""


def _automatic_level_follows_factor_and_passes(ui, outputs: dict) -> None:
    """Regression: the server's level line of an automatic t_boom (t_boom 0) stayed after factor or passes changed,
    though the level it names depends on both. Another factor or passes shows the frontend's line for the level the
    backend would pick (boomerang.schedule.auto_t_boom); the settings of the run show the server's line again."""
    from boomerang.schedule import auto_t_boom

    def shown() -> str:
        [row] = _level_lines_shown(ui, "pre_4x")
        return row["shown"]

    [row] = _level_lines_shown(ui, "pre_4x")
    server_text = outputs[row["id"]]["text"][0]
    assert row["type"] == "UpscaleThenBoomerang" and shown().startswith(server_text), (row, server_text)
    for factor, passes in [(8.0, 1), (4.0, 2)]:
        ui.page.evaluate(SET_WIDGETS, ["UpscaleThenBoomerang", {"factor": factor, "passes": passes}])
        t = auto_t_boom(factor, 1000, passes)
        calls = RECOMMENDED.steps * passes  # the shipped sampler: one model call per step (steps below t), per pass
        assert shown() == f"t_boom auto {t}/1000 ({t // 10}%) - local sample · {calls} model evaluations", (
            ui.config, factor, passes)
    ui.page.evaluate(SET_WIDGETS, ["UpscaleThenBoomerang", {"factor": 4.0, "passes": 1}])
    assert shown().startswith(server_text), ui.config


@pytest.mark.parametrize("ui,name", [(c, n) for c in CONFIGS for n in QUEUED[c]], indirect=["ui"])
def test_workflow_queues_and_finishes_in_the_browser(ui, name):
    load_workflow(ui.page, name)
    if name == "pre_4x":  # a seed of its own in each configuration: its Boomerang node runs (not cached) and reports
        ui.page.evaluate(SET_WIDGETS, ["UpscaleThenBoomerang", {"seed": 1 + CONFIGS.index(ui.config)}])
    history_before = set(get_json(f"{ui.url}/history"))
    ui.page.evaluate("async () => { await window.app.queuePrompt(0, 1); }")
    deadline = time.time() + 1200
    prompt_id = None
    while time.time() < deadline:
        new = set(get_json(f"{ui.url}/history")) - history_before
        if new:
            prompt_id = new.pop()
            break
        time.sleep(0.5)
    assert prompt_id, f"{name} did not finish within 1200 s"
    entry = get_json(f"{ui.url}/history/{prompt_id}")[prompt_id]
    assert entry["status"]["status_str"] == "success", entry["status"]
    outputs = entry["outputs"]
    assert [img for out in outputs.values() for img in out.get("images", [])], f"{name} produced no image"
    ui.page.wait_for_timeout(800)
    found = problems(ui.page)
    assert found["missing"] == [] and found["red"] == []
    fit_view(ui.page)
    ui.shot(name)
    # After a run each Boomerang node shows the server's own level text (its "text" UI output): for the reverse
    # passes with the model evaluations and the frontier's verdict.
    for row in _level_lines_shown(ui, name):
        server_text = outputs.get(row["id"], {}).get("text", [None])[0]
        if server_text and row["type"] != "BoomerangSigmas":
            assert row["shown"].startswith(server_text), (row, server_text)
    if name == "pre_4x":
        _automatic_level_follows_factor_and_passes(ui, outputs)
    reports = shown_texts(ui.page, "boomerang_report", FACE_NODES)
    ran = [row for row in reports if "text" in outputs.get(row["id"], {})]  # a face node no output needs stays idle
    assert bool(ran) == (name in FACES), reports
    for row in reports:
        if row not in ran:
            assert row["shown"] == "", row
            continue
        server_lines = outputs[row["id"]]["text"][0].split("\n")
        assert row["shown"] == row["expected"] != "", row
        assert row["expected"].split("\n")[:11] == server_lines[:11], (row, server_lines)
        assert row["scrollHeight"] <= row["clientHeight"] + 1, f"{ui.config}: report clipped: {row}"


def _help_pages():
    pages = {}
    for md in sorted((REPO / "web" / "docs").glob("*.md")):
        heading = next(line for line in md.read_text().splitlines() if line.startswith("# "))
        pages[md.stem] = heading[2:].strip()
    return pages


def test_every_help_page_opens(ui):
    """Select a node of each kind, press the selection toolbox's info button: the pack's web/docs page renders
    (its heading), with its pictures loaded."""
    page = ui.page
    page.evaluate("() => window.app.graph.clear()")
    for node_type, heading in _help_pages().items():
        page.evaluate("""(type) => {
            window.app.graph.clear();
            const node = window.LiteGraph.createNode(type);
            // Mid-screen, clear of the panels where either frontend opens the help (left or right).
            node.pos = window.app.canvas.convertOffsetToCanvas([560, 300]);
            window.app.graph.add(node);
            window.app.canvas.deselectAll?.();
            window.app.canvas.selectNode(node);
            window.app.canvas.setDirty(true, true);
        }""", node_type)
        # The button's own click event: in 1.32.9 the help panel opened for the previous node can overlap it.
        page.locator('[data-testid="info-button"]').first.dispatch_event("click", timeout=10_000)
        title = page.get_by_role("heading", name=heading, exact=True)
        title.first.wait_for(state="visible", timeout=10_000)
        page.wait_for_timeout(300)
        images = page.evaluate("""() => [...document.querySelectorAll('img')]
            .filter(img => img.src.includes('/extensions/comfyui-boomerang/docs/'))
            .map(img => ({src: img.src, ok: img.complete && img.naturalWidth > 0}))""")
        if "![" in (REPO / "web" / "docs" / f"{node_type}.md").read_text():
            assert images and all(i["ok"] for i in images), (node_type, images)
        if node_type == "BoomerangTiledModel":
            ui.shot("help_BoomerangTiledModel")


def test_t_boom_label_updates_when_the_widget_changes(ui):
    page = ui.page
    load_workflow(page, "augment_dataset")
    read = """(value) => {
        const node = window.app.graph._nodes.find(n => n.comfyClass === "Boomerang");
        const w = node.widgets.find(w => w.name === "t_boom");
        w.value = value; w.callback?.(value);
        window.app.graph.setDirtyCanvas(true, true);
        return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() =>
            r([node.boomerangLabel, node.widgets.find(w => w.name === "boomerang_level").element.innerText]))));
    }"""
    calls = f"{RECOMMENDED.steps} model evaluations"  # the shipped default's sampler calls the model once per step
    for value, text in [(400, f"t_boom 400/1000 (40%) - local sample · {calls}"),
                        (1000, f"t_boom 1000/1000 (100%) - global sample · {calls}"),
                        (0, "t_boom 0/1000 (0%) - identity")]:
        assert page.evaluate(read, value) == [text, text]
    load_workflow(page, "pre_16x")
    label = page.evaluate("() => window.app.graph._nodes.find(n => n.comfyClass === 'UpscaleThenBoomerang')"
                          ".boomerangLabel")
    assert label == f"t_boom auto 600/1000 (60%) - local sample · {calls}"
    fit_view(page)
    ui.shot("label_pre_16x")


# ComfyUI 0.38.1's comfy/samplers.py (Comfy-Org/ComfyUI at 311c01406130b2acbe8ab291043502de26cf3871), read:
# KSAMPLER_NAMES + ["ddim", "uni_pc", "uni_pc_bh2"]. The three samplers 0.3.75 lacks are counted from that
# commit's source instead of measured: exp_heun_2_x0(_sde) call sample_seeds_2 with r=1 (as seeds_2), and
# cfgpp_ud10_ab evaluates the model once per step.
SAMPLERS_0_38_1 = [
    "euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2", "exp_heun_2_x0",
    "exp_heun_2_x0_sde", "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral",
    "dpmpp_2s_ancestral_cfg_pp", "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp", "dpmpp_2m_sde",
    "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm",
    "lcm", "ipndm", "ipndm_v", "deis", "cfgpp_ud10_ab", "res_multistep", "res_multistep_cfg_pp",
    "res_multistep_ancestral", "res_multistep_ancestral_cfg_pp", "gradient_estimation", "gradient_estimation_cfg_pp",
    "er_sde", "seeds_2", "seeds_3", "sa_solver", "sa_solver_pece", "ddim", "uni_pc", "uni_pc_bh2"]
NEW_IN_0_38 = {"exp_heun_2_x0": "seeds_2", "exp_heun_2_x0_sde": "seeds_2", "cfgpp_ud10_ab": "euler"}


@pytest.mark.parametrize("ui", [CONFIGS[0]], indirect=True)
def test_model_evaluation_counts_match_comfyui_samplers(ui, comfy):
    """The level line's "N model evaluations" (web/js/boomerang.js modelCalls) against the model calls each sampler
    of the running ComfyUI makes in a PartialReverseSampler pass from t_boom 200, counted on the oracle model."""
    from testkit.graphs import oracle_boomerang

    model_calls = """([sampler, steps]) => import('/extensions/comfyui-boomerang/js/boomerang.js')
        .then(m => sampler === null ? Object.keys(m.SAMPLER_CALLS) : m.modelCalls(sampler, steps) ?? null)"""
    table = set(ui.page.evaluate(model_calls, [None, 0]))
    # dpm_adaptive picks its own steps (no count is claimed); boomerang_fast is the pack's (one call per step)
    assert table == (set(SAMPLERS_0_38_1) - {"dpm_adaptive"}) | {"boomerang_fast"}
    installed = comfy.nodes.NODE_CLASS_MAPPINGS["KSampler"].INPUT_TYPES()["required"]["sampler_name"][0]

    def measure() -> dict:  # in a thread of its own: the executor runs its own event loop, Playwright holds this one
        counts = {}
        for i, sampler in enumerate([s for s in installed if s in table] + ["boomerang_fast"]):
            for steps in (1, 4):
                tag = f"calls-{i}-{steps}"
                graph = oracle_boomerang(t_boom=200, batch=1, size=8, sampler=sampler, steps=steps)
                graph["1"]["inputs"]["tag"] = tag  # a new tag: the oracle node runs again and counts from 0
                comfy.run(graph)
                counts[(sampler, steps)] = comfy.calls(tag)
        return counts

    with ThreadPoolExecutor(1) as pool:
        measured = pool.submit(measure).result()
    assert len(measured) >= 2 * 40
    wrong = {key: (calls, ui.page.evaluate(model_calls, list(key))) for key, calls in measured.items()
             if ui.page.evaluate(model_calls, list(key)) != calls}
    assert wrong == {}, "sampler, steps: (measured, label)"
    for new, like in NEW_IN_0_38.items():
        for steps in (1, 4):
            assert ui.page.evaluate(model_calls, [new, steps]) == ui.page.evaluate(model_calls, [like, steps])
