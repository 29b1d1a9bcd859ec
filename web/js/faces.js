// Boomerang for ComfyUI: the face nodes show their last report (faces found, distances, t_boom per face) on the node.
import { app } from "../../../scripts/app.js";
import { addTextWidget, fitNode } from "./text_widget.js";

const NODES = new Set(["BoomerangFaceDetect", "FaceIdentityDistance", "AnonymizeFaces"]);
const LINE = 15;
const MAX_LINES = 12;

function reportLines(text) {
  const lines = String(text).split("\n");
  if (lines.length <= MAX_LINES) return lines;
  return [...lines.slice(0, MAX_LINES - 1), `... ${lines.length - MAX_LINES + 1} more line(s): see the report output`];
}

app.registerExtension({
  name: "boomerang.faceReports",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!NODES.has(nodeData.name)) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      const r = onExecuted?.apply(this, arguments);
      const text = message?.text?.[0];
      if (text !== undefined) {
        this.boomerangReport = reportLines(text);
        // The widget comes with the first report, so a node that never ran looks as it always did.
        this.boomerangReportWidget ??= addTextWidget(this, "boomerang_report", { font: "12px monospace" });
        if (this.boomerangReportWidget) {
          this.boomerangReportWidget.boomerangSetText(this.boomerangReport.join("\n"));
          fitNode(this);
        } else {
          this.setSize([this.size[0], this.size[1] + this.boomerangReport.length * LINE + 10]);
          this.setDirtyCanvas(true, true);
        }
      }
      return r;
    };
    // Only a frontend without DOM widgets draws the report on the canvas (Nodes 2.0 never calls this).
    const onDrawForeground = nodeType.prototype.onDrawForeground;
    nodeType.prototype.onDrawForeground = function (ctx) {
      const r = onDrawForeground?.apply(this, arguments);
      const lines = this.boomerangReport;
      if (this.boomerangReportWidget || !lines?.length || this.flags?.collapsed) return r;
      ctx.save();
      ctx.font = "12px monospace";
      ctx.fillStyle = "#cfe8ff";
      let y = this.size[1] - 6 - (lines.length - 1) * LINE;
      for (const line of lines) {
        ctx.fillText(line, 10, y, this.size[0] - 20);
        y += LINE;
      }
      ctx.restore();
      return r;
    };
  },
});
