"""Boomerang local sampling for ComfyUI (Luzi et al., "Boomerang: Local sampling on image manifolds using
diffusion models", TMLR 2024). Loaded by ComfyUI from custom_nodes/; the nodes are V3 (comfy_entrypoint)."""
from .nodes import comfy_entrypoint

WEB_DIRECTORY = "./web"

__all__ = ["comfy_entrypoint", "WEB_DIRECTORY"]
