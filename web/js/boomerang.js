// Boomerang for ComfyUI: a live label on every Boomerang node saying what t_boom means and what it costs.
import { app } from "../../../scripts/app.js";
import { addTextWidget, fitNode } from "./text_widget.js";

const NODES = new Set(["BoomerangNoise", "PartialReverseSampler", "CascadeLoop", "UpscaleThenBoomerang",
  "UpscaleClipThenBoomerang", "Boomerang", "BoomerangSigmas"]);
const AUTO_NODES = new Set(["UpscaleThenBoomerang", "UpscaleClipThenBoomerang"]); // t_boom 0: from the factor
const T = 1000;
// Model evaluations of ComfyUI's samplers (comfy/samplers.py KSAMPLER_NAMES of 0.38.1 at commit 311c014, plus
// ddim/uni_pc/uni_pc_bh2): per step, then what the first or last steps cost instead when they differ (a step that
// ends at sigma 0 is one Euler/denoise evaluation). exp_heun_2_x0(_sde) is seeds_2 with r = 1 (k_diffusion 0.38.1).
// dpm_adaptive picks its own steps: no count. tests/test_sampler_calls.py counts these in the real samplers.
export const SAMPLER_CALLS = {
  euler: [1], euler_cfg_pp: [1], euler_ancestral: [1], euler_ancestral_cfg_pp: [1],
  heun: [2, { last: [1] }], heunpp2: [3, { last: [2, 1] }],
  exp_heun_2_x0: [2, { last: [1] }], exp_heun_2_x0_sde: [2, { last: [1] }],
  dpm_2: [2, { last: [1] }], dpm_2_ancestral: [2, { last: [1] }], lms: [1], dpm_fast: [1],
  dpmpp_2s_ancestral: [2, { last: [1] }], dpmpp_2s_ancestral_cfg_pp: [2, { last: [1] }],
  dpmpp_sde: [2, { last: [1] }], dpmpp_sde_gpu: [2, { last: [1] }],
  dpmpp_2m: [1], dpmpp_2m_cfg_pp: [1], dpmpp_2m_sde: [1], dpmpp_2m_sde_gpu: [1], dpmpp_2m_sde_heun: [1],
  dpmpp_2m_sde_heun_gpu: [1], dpmpp_3m_sde: [1], dpmpp_3m_sde_gpu: [1], ddpm: [1], lcm: [1],
  ipndm: [1], ipndm_v: [1], deis: [1], cfgpp_ud10_ab: [1], res_multistep: [1], res_multistep_cfg_pp: [1],
  res_multistep_ancestral: [1], res_multistep_ancestral_cfg_pp: [1], gradient_estimation: [1],
  gradient_estimation_cfg_pp: [1], er_sde: [1], seeds_2: [2, { last: [1] }], seeds_3: [3, { last: [1] }],
  sa_solver: [1], sa_solver_pece: [2, { first: [1] }], ddim: [1], uni_pc: [1], uni_pc_bh2: [1],
  boomerang_fast: [1], // the pack's 10-call sampler: one model call per step
};

// Model evaluations of `steps` steps of `sampler` ending at sigma 0, or undefined when not known ahead.
export function modelCalls(sampler, steps) {
  const entry = SAMPLER_CALLS[sampler];
  if (!entry || steps <= 0) return entry ? 0 : undefined;
  const [perStep, { first = [], last = [] } = {}] = entry;
  let total = 0;
  for (let i = 0; i < steps; i++) {
    const fromEnd = steps - 1 - i;
    if (fromEnd < last.length) total += last[last.length - 1 - fromEnd];
    else if (i < first.length) total += first[i];
    else total += perStep;
  }
  return total;
}

// Automatic t_boom/T of UpscaleThenBoomerang (same anchors as boomerang/schedule.py): linear in log2(factor).
const AUTO = [[0, 0], [1, 0.1], [2, 0.2], [3, 0.4], [4, 0.6], [5, 0.8]];

function autoFraction(factor) {
  const x = Math.log2(Math.max(factor, 1));
  for (let i = 1; i < AUTO.length; i++) {
    const [x0, f0] = AUTO[i - 1], [x1, f1] = AUTO[i];
    if (x <= x1) return f0 + (f1 - f0) * (x - x0) / (x1 - x0);
  }
  return AUTO[AUTO.length - 1][1];
}

function widget(node, name) {
  return node.widgets?.find((w) => w.name === name)?.value;
}

// The node feeding input `name`: LGraphNode.getInputNode, else through LGraph.links (a Map in current frontends,
// where indexing it and reading input.link go through deprecated proxies; a plain object in old ones).
function inputNode(node, name) {
  const slot = node.inputs?.findIndex((i) => i.name === name) ?? -1;
  if (slot < 0 || !node.graph) return null;
  if (typeof node.getInputNode === "function") return node.getInputNode(slot);
  const links = node.graph.links;
  const id = node.inputs[slot].link;
  const link = id == null ? undefined : typeof links?.get === "function" ? links.get(id) : links?.[id];
  return link ? node.graph.getNodeById(link.origin_id) : null;
}

function upstreamTBoom(node) {
  // PartialReverseSampler starts where its BoomerangNoise put the latent.
  const origin = inputNode(node, "latent");
  return origin?.comfyClass === "BoomerangNoise" ? widget(origin, "t_boom") : undefined;
}

// What the backend's line depends on: the start level and the pass settings.
// (t is the widget's or the upstream t_boom, 0 for an automatic one, whose level also depends on factor and passes.)
function settingKey(node, t) {
  return JSON.stringify([t, widget(node, "sampler"), widget(node, "scheduler"), widget(node, "steps"),
    widget(node, "factor"), widget(node, "passes")]);
}

function currentTBoom(node) {
  return widget(node, "t_boom") ?? upstreamTBoom(node);
}

export function boomerangLabel(node) {
  let t = widget(node, "t_boom");
  const passes = widget(node, "passes") ?? 1;
  let auto = "";
  if (t === undefined) t = upstreamTBoom(node);
  if (t === undefined) return "t_boom: from the connected BoomerangNoise";
  const key = settingKey(node, t);
  if (AUTO_NODES.has(node.comfyClass) && t === 0) {
    let fraction = autoFraction(widget(node, "factor") ?? 1);
    if (passes > 1) fraction = Math.min(fraction, 0.2);
    t = Math.round(fraction * T);
    auto = " auto";
  }
  // After a run with these very settings: the backend's line (the model's own terms: timestep or flow time, its
  // sigma, and for a reverse pass the model evaluations and whether the setting holds the law, from
  // docs/FRONTIER.md).
  const backend = node.boomerangBackendLevel;
  if (backend && backend.key === key) return backend.text;
  const pct = Math.round((100 * t) / T);
  const kind = t === 0 ? "identity" : t >= T ? "global sample" : "local sample";
  let text = `t_boom${auto} ${t}/${T} (${pct}%) - ${kind}`;
  if (node.comfyClass === "BoomerangNoise") return text;
  const sampler = widget(node, "sampler");
  const steps = widget(node, "steps") ?? 0;
  if (sampler !== undefined && t > 0) {
    const perPass = sampler === "boomerang_exact" ? t : modelCalls(sampler, Math.min(steps, t));
    if (perPass !== undefined) text += ` · ${perPass * passes} model evaluations`;
  }
  return text;
}

// Recompute the label and put it on the node's text widget (or, on a frontend without DOM widgets, leave it to
// onDrawForeground). Cheap: called on every canvas frame in the classic renderer and on every change in both.
function refresh(node) {
  node.boomerangLabel = boomerangLabel(node);
  if (node.boomerangLevelWidget?.boomerangSetText(node.boomerangLabel)) fitNode(node);
  return node.boomerangLabel;
}

function refreshGraph(graph) {
  for (const n of graph?._nodes ?? graph?.nodes ?? []) if (NODES.has(n.comfyClass)) refresh(n);
}

function chain(object, method, after) {
  const before = object[method];
  object[method] = function () {
    const r = before?.apply(this, arguments);
    after.apply(this, arguments);
    return r;
  };
}

app.registerExtension({
  name: "boomerang.tboomLabel",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!NODES.has(nodeData.name)) return;
    const proto = nodeType.prototype;
    chain(proto, "onNodeCreated", function () {
      // A change of any widget can change the label; a BoomerangNoise's t_boom also labels its samplers.
      for (const w of this.widgets ?? []) chain(w, "callback", () => { refreshGraph(this.graph); refresh(this); });
      this.boomerangLevelWidget = addTextWidget(this, "boomerang_level", { color: "#8fd3ff" });
      refresh(this);
      if (this.boomerangLevelWidget) fitNode(this);
    });
    chain(proto, "onConfigure", function () { refresh(this); });
    chain(proto, "onConnectionsChange", function () { refresh(this); });
    chain(proto, "onDrawForeground", function (ctx) {
      refresh(this); // live while a widget is dragged, and after an upstream BoomerangNoise changed
      if (this.boomerangLevelWidget || this.flags?.collapsed) return;
      ctx.save();
      ctx.font = "12px sans-serif";
      ctx.fillStyle = "#8fd3ff";
      ctx.fillText(this.boomerangLabel, 10, this.size[1] - 6, this.size[0] - 20);
      ctx.restore();
    });
    chain(proto, "onExecuted", function (message) {
      const text = message?.text?.[0];
      if (text) this.boomerangBackendLevel = { key: settingKey(this, currentTBoom(this)), text };
      refresh(this);
    });
  },
});
