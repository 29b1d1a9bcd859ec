"""ComfyUI workflow files: build UI-format (version 0.4) graphs and convert them to API format.

Both directions read the live node definitions (``INPUT_TYPES`` / ``RETURN_TYPES`` of the node classes that
ComfyUI loaded), so the order of ``widgets_values`` is the one the frontend uses: every widget input
(INT, FLOAT, STRING, BOOLEAN, COMBO) in definition order, required before optional, with one extra value
after an input that has ``control_after_generate``.
"""
from __future__ import annotations

import uuid

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
FRONTEND_ONLY = {"Note", "MarkdownNote"}
MODE_MUTED, MODE_BYPASSED = 2, 4


def _specs(node_class):
    defs = node_class.INPUT_TYPES()
    for section in ("required", "optional"):
        for name, spec in defs.get(section, {}).items():
            type_ = spec[0]
            opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            yield name, type_, opts


def is_widget(type_, opts) -> bool:
    return (isinstance(type_, list) or type_ in WIDGET_TYPES) and not opts.get("forceInput", False)


def _type_name(type_) -> str:
    return "COMBO" if isinstance(type_, list) else str(type_)


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
        for name, type_, opts in _specs(node_classes[node["type"]]):
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


class UIWorkflow:
    """Builds a UI-format workflow: ``add`` nodes by key, link them by key, add notes and groups."""

    def __init__(self, node_classes: dict):
        self.node_classes = node_classes
        self.nodes, self.links, self.groups = [], [], []
        self._by_key = {}

    def add(self, key: str, type_: str, pos, widgets: dict | None = None, links: dict | None = None,
            title: str | None = None, size=(320, 160)) -> dict:
        widgets, links = dict(widgets or {}), dict(links or {})
        cls = self.node_classes[type_]
        node = {"id": len(self.nodes) + 1, "type": type_, "pos": list(pos), "size": list(size), "flags": {},
                "order": len(self.nodes), "mode": 0, "inputs": [], "outputs": [],
                "properties": {"Node name for S&R": type_}, "widgets_values": []}
        for name, type_in, opts in _specs(cls):
            if is_widget(type_in, opts):
                if name not in widgets and "default" not in opts and not isinstance(type_in, list):
                    raise ValueError(f"{key}: no value for widget {name!r}")
                default = opts.get("default", type_in[0] if isinstance(type_in, list) and type_in else None)
                node["widgets_values"].append(widgets.pop(name, default))
                if opts.get("control_after_generate"):
                    node["widgets_values"].append("fixed")
                if name in links:
                    node["inputs"].append({"name": name, "type": _type_name(type_in), "widget": {"name": name},
                                           "link": None})
            else:
                node["inputs"].append({"name": name, "type": _type_name(type_in), "link": None})
        if widgets:
            raise ValueError(f"{key}: {type_} has no widgets {sorted(widgets)}")
        if type_ == "LoadImage":
            node["widgets_values"].append("image")  # the frontend's upload button
        names = getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES
        for slot, (name, out_type) in enumerate(zip(names, cls.RETURN_TYPES)):
            node["outputs"].append({"name": name, "type": _type_name(out_type), "links": [], "slot_index": slot})
        if title:
            node["title"] = title
        self.nodes.append(node)
        self._by_key[key] = node
        for name, (src_key, slot) in links.items():
            self.link(src_key, slot, key, name)
        return node

    def link(self, src_key: str, slot: int, dst_key: str, input_name: str) -> None:
        src, dst = self._by_key[src_key], self._by_key[dst_key]
        dst_slot = next(i for i, inp in enumerate(dst["inputs"]) if inp["name"] == input_name)
        link_id = len(self.links) + 1
        self.links.append([link_id, src["id"], slot, dst["id"], dst_slot, src["outputs"][slot]["type"]])
        src["outputs"][slot]["links"].append(link_id)
        dst["inputs"][dst_slot]["link"] = link_id

    def note(self, text: str, pos, size=(420, 200), title: str = "Read me first") -> None:
        self.nodes.append({"id": len(self.nodes) + 1, "type": "Note", "pos": list(pos), "size": list(size),
                           "flags": {}, "order": len(self.nodes), "mode": 0, "inputs": [], "outputs": [],
                           "properties": {}, "widgets_values": [text], "title": title,
                           "color": "#432", "bgcolor": "#653"})

    def group(self, title: str, bounding, color: str = "#3f789e") -> None:
        self.groups.append({"id": len(self.groups) + 1, "title": title, "bounding": list(bounding),
                            "color": color, "font_size": 24, "flags": {}})

    def to_dict(self, name: str) -> dict:
        return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"boomerang/{name}")), "revision": 0,
                "last_node_id": len(self.nodes), "last_link_id": len(self.links), "nodes": self.nodes,
                "links": self.links, "groups": self.groups, "config": {},
                "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4}
