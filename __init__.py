"""Boomerang local sampling for ComfyUI (Luzi et al., "Boomerang: Local sampling on image manifolds using
diffusion models", TMLR 2024). ComfyUI loads this folder from custom_nodes/ and calls ``comfy_entrypoint``
(V3 nodes); nothing is imported or computed until it does."""

WEB_DIRECTORY = "./web"


async def comfy_entrypoint():
    from .nodes import BoomerangExtension

    return BoomerangExtension()


__all__ = ["comfy_entrypoint", "WEB_DIRECTORY"]
