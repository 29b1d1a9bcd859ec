"""Graphs from the live node schemas: API-format nodes with every widget filled from the loaded node
classes, and UI-format (frontend) workflows converted to API format.

Both read ``INPUT_TYPES`` of the node classes that ComfyUI loaded, so the order of ``widgets_values`` is the
one the frontend uses: every widget input (INT, FLOAT, STRING, BOOLEAN, COMBO) in definition order, required
before optional, with one extra value after an input that has ``control_after_generate``. Standard library
only; pass ``rt.nodes.NODE_CLASS_MAPPINGS`` of a booted runtime as ``node_classes``.
"""
from __future__ import annotations

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
FRONTEND_ONLY = {"Note", "MarkdownNote"}
MODE_MUTED, MODE_BYPASSED = 2, 4


def input_specs(node_class):
    """(name, type, options) of every input of a node class, required before optional."""
    defs = node_class.INPUT_TYPES()
    for section in ("required", "optional"):
        for name, spec in defs.get(section, {}).items():
            type_ = spec[0]
            opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            yield name, type_, opts


def is_widget(type_, opts) -> bool:
    return (isinstance(type_, list) or type_ in WIDGET_TYPES) and not opts.get("forceInput", False)


def type_name(type_) -> str:
    return "COMBO" if isinstance(type_, list) else str(type_)


def api_node(node_classes: dict, class_type: str, **inputs) -> dict:
    """One API-format node: ``inputs`` (values or [node_id, slot] links) over the schema's widget defaults.

    An input name the live schema does not have, or a required widget without a default and without a value,
    is a ValueError naming it, so a preset breaks loudly when a node's schema changes."""
    if class_type not in node_classes:
        raise ValueError(f"node type {class_type!r} is not loaded in this ComfyUI")
    specs = list(input_specs(node_classes[class_type]))
    unknown = sorted(set(inputs) - {name for name, _, _ in specs})
    if unknown:
        raise ValueError(f"{class_type} has no inputs {unknown}; it has {[name for name, _, _ in specs]}")
    required = set(node_classes[class_type].INPUT_TYPES().get("required", {}))
    filled = {}
    for name, type_, opts in specs:
        if name in inputs:
            filled[name] = inputs[name]
        elif is_widget(type_, opts) and ("default" in opts or (isinstance(type_, list) and type_)):
            filled[name] = opts.get("default", type_[0] if isinstance(type_, list) else None)
        elif name in required:
            raise ValueError(f"{class_type}: no value for required input {name!r}")
    return {"class_type": class_type, "inputs": filled}


def ui_to_api(ui: dict, node_classes: dict) -> dict:
    """An API-format prompt from a UI-format workflow (Note nodes, muted and bypassed nodes are left out)."""
    links = {link[0]: link for link in ui.get("links", [])}
    api = {}
    for node in sorted(ui["nodes"], key=lambda n: n["id"]):
        if node["type"] in FRONTEND_ONLY or node.get("mode", 0) in (MODE_MUTED, MODE_BYPASSED):
            continue
        if node["type"] not in node_classes:
            raise KeyError(f"node {node['id']} has type {node['type']!r}, which this ComfyUI does not have")
        linked = {}
        for inp in node.get("inputs", []):
            if inp.get("link") is not None:
                link = links[inp["link"]]
                linked[inp["name"]] = [str(link[1]), link[2]]
        values = list(node.get("widgets_values", []))
        inputs, k = {}, 0
        for name, type_, opts in input_specs(node_classes[node["type"]]):
            if is_widget(type_, opts):
                if k >= len(values):
                    raise ValueError(f"node {node['id']} ({node['type']}) has too few widgets_values for {name!r}")
                value = values[k]
                k += 2 if opts.get("control_after_generate") else 1
                inputs[name] = linked.get(name, value)
            elif name in linked:
                inputs[name] = linked[name]
        api[str(node["id"])] = {"class_type": node["type"], "inputs": inputs,
                                "_meta": {"title": node.get("title") or node["type"]}}
    return api
