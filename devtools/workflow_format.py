"""ComfyUI workflow files: build UI-format (version 0.4) graphs; the conversion to API format is
``headless.graphs.ui_to_api`` (product code, also used by the dataset jobs).

Both directions read the live node definitions (``INPUT_TYPES`` / ``RETURN_TYPES`` of the node classes that
ComfyUI loaded), so the order of ``widgets_values`` is the one the frontend uses: every widget input
(INT, FLOAT, STRING, BOOLEAN, COMBO) in definition order, required before optional, with one extra value
after an input that has ``control_after_generate``.
"""
from __future__ import annotations

import uuid

from headless.graphs import input_specs as _specs  # one piece of code with the dataset presets
from headless.graphs import is_widget, ui_to_api  # noqa: F401 - re-exported: tests and build_workflows use them here
from headless.graphs import type_name as _type_name


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
