// Boomerang for ComfyUI: a live label on every Boomerang node saying what t_boom means and what it costs.
import { app } from "../../../scripts/app.js";

const NODES = new Set(["BoomerangNoise", "PartialReverseSampler", "CascadeLoop", "UpscaleThenBoomerang",
  "Boomerang", "BoomerangSigmas"]);
const T = 1000;
// Model evaluations per step of ComfyUI samplers that call the model more than once per step.
const CALLS_PER_STEP = { heun: 2, heunpp2: 3, dpm_2: 2, dpm_2_ancestral: 2, dpmpp_2s_ancestral: 2,
  dpmpp_2s_ancestral_cfg_pp: 2, dpmpp_sde: 2, dpmpp_sde_gpu: 2, seeds_2: 2, seeds_3: 3 };
// Automatic t_boom/T of UpscaleThenBoomerang (same anchors as boomerang/schedule.py): linear in log2(factor).
const AUTO = [[0, 0], [1, 0.1], [2, 0.2], [3, 0.4], [4, 0.6], [5, 0.8]];
const LABEL_HEIGHT = 20;

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

function upstreamTBoom(node) {
  // PartialReverseSampler starts where its BoomerangNoise put the latent.
  const input = node.inputs?.find((i) => i.name === "latent");
  const link = input?.link != null ? node.graph?.links?.[input.link] : null;
  const origin = link ? node.graph.getNodeById(link.origin_id) : null;
  return origin?.comfyClass === "BoomerangNoise" ? widget(origin, "t_boom") : undefined;
}

export function boomerangLabel(node) {
  let t = widget(node, "t_boom");
  const passes = widget(node, "passes") ?? 1;
  let auto = "";
  if (t === undefined) t = upstreamTBoom(node);
  if (t === undefined) return "t_boom: from the connected BoomerangNoise";
  if (node.comfyClass === "UpscaleThenBoomerang" && t === 0) {
    let fraction = autoFraction(widget(node, "factor") ?? 1);
    if (passes > 1) fraction = Math.min(fraction, 0.2);
    t = Math.round(fraction * T);
    auto = " auto";
  }
  const pct = Math.round((100 * t) / T);
  const kind = t === 0 ? "identity" : t >= T ? "global sample" : "local sample";
  let text = `t_boom${auto} ${t}/${T} (${pct}%) - ${kind}`;
  const backend = node.boomerangBackendLevel;
  if (backend && backend.t === t) text = `${backend.text}`; // after a run: the model's own sigma (flow: flow time)
  if (node.comfyClass === "BoomerangNoise") return text;
  const sampler = widget(node, "sampler");
  const steps = widget(node, "steps") ?? 0;
  if (sampler !== undefined && t > 0) {
    const perPass = sampler === "boomerang_exact" ? t : Math.min(steps, t) * (CALLS_PER_STEP[sampler] ?? 1);
    text += ` · ${perPass * passes} model evaluations`;
  }
  return text;
}

app.registerExtension({
  name: "boomerang.tboomLabel",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!NODES.has(nodeData.name)) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const r = onNodeCreated?.apply(this, arguments);
      this.setSize([this.size[0], this.size[1] + LABEL_HEIGHT]);
      this.boomerangLabel = boomerangLabel(this);
      return r;
    };
    const onDrawForeground = nodeType.prototype.onDrawForeground;
    nodeType.prototype.onDrawForeground = function (ctx) {
      const r = onDrawForeground?.apply(this, arguments);
      if (this.flags?.collapsed) return r;
      this.boomerangLabel = boomerangLabel(this); // recomputed every frame: live while a widget is dragged
      ctx.save();
      ctx.font = "12px sans-serif";
      ctx.fillStyle = "#8fd3ff";
      ctx.fillText(this.boomerangLabel, 10, this.size[1] - 6, this.size[0] - 20);
      ctx.restore();
      return r;
    };
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      const r = onExecuted?.apply(this, arguments);
      const text = message?.text?.[0];
      if (text) this.boomerangBackendLevel = { t: widget(this, "t_boom"), text };
      return r;
    };
  },
});
