// Boomerang for ComfyUI: read-only text on a node, as a DOM widget (the frontend's extension API), so that both the
// classic canvas and the "Nodes 2.0" renderer (Comfy.VueNodes.Enabled, which never calls onDrawForeground) show it.
// The widget is never saved: not in a workflow's widgets_values (widget.serialize) nor in the API prompt
// (options.serialize), so workflows saved before it existed load unchanged and saved ones stay loadable without it.
export const TEXT_WIDGET_TYPE = "boomerang_text"; // a type neither renderer draws itself: the element is shown

const LINE = 16; // px per text row
const PAD = 4; // px above and below the text
const MARGIN = 4; // px around the element inside the widget's slot (the frontend's DOM widget margin)
const SIDES = 2 * MARGIN + 8 + 16; // px of the node's width the text cannot use: margins, padding, and a spare

let measureContext;
function textWidth(text, font) {
  measureContext ??= document.createElement("canvas").getContext("2d");
  measureContext.font = font;
  return measureContext.measureText(text).width;
}

// Rows the text takes when wrapped to the node's width (the classic canvas needs the height before layout).
function rows(lines, font, width) {
  const room = Math.max(width - SIDES, 40);
  return lines.reduce((n, line) => n + Math.max(1, Math.ceil(textWidth(line, font) / room)), 0);
}

export function addTextWidget(node, name, { color = "#cfe8ff", font = "12px sans-serif" } = {}) {
  if (typeof node.addDOMWidget !== "function") return null; // a frontend without DOM widgets: callers draw instead
  const element = document.createElement("div");
  element.className = `boomerang-text boomerang-text-${name}`;
  Object.assign(element.style, {
    color, font, lineHeight: `${LINE}px`, padding: `${PAD / 2}px 4px`, whiteSpace: "pre-wrap",
    overflowWrap: "anywhere", overflow: "hidden", boxSizing: "border-box", pointerEvents: "none",
  });
  let lines = [""];
  const height = () => rows(lines, font, node.size[0]) * LINE + PAD + 2 * MARGIN;
  const widget = node.addDOMWidget(name, TEXT_WIDGET_TYPE, element, {
    serialize: false,
    hideOnZoom: false,
    margin: MARGIN,
    getValue: () => lines.join("\n"),
    setValue: () => {}, // read-only: a value restored from elsewhere is ignored
    getMinHeight: height,
    getMaxHeight: height,
  });
  widget.serialize = false;
  widget.options.serialize = false;
  // Returns true when the text needs more height than before (then call fitNode).
  widget.boomerangSetText = (text) => {
    if (element.textContent === text) return false;
    const before = height();
    lines = String(text).split("\n");
    element.textContent = text;
    return height() > before;
  };
  return widget;
}

// Grow the node (never shrink it) so that all widgets, the text included, fit in the classic canvas.
export function fitNode(node) {
  const min = node.computeSize?.();
  if (!min) return;
  if (node.size[1] < min[1] || node.size[0] < min[0]) {
    node.setSize([Math.max(node.size[0], min[0]), Math.max(node.size[1], min[1])]);
  }
  node.setDirtyCanvas?.(true, true);
}
