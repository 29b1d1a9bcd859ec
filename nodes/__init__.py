"""ComfyUI glue for Boomerang: thin V3 nodes over the pure functions in ``boomerang/``."""
from __future__ import annotations

from comfy_api.latest import ComfyExtension, io


class BoomerangExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        from .batch_nodes import BoomerangItemSeeds, BoomerangPerItemModel
        from .boomerang_nodes import (
            Boomerang,
            BoomerangExactSampler,
            BoomerangFastSampler,
            BoomerangNoise,
            BoomerangSigmas,
            PartialReverseSampler,
        )
        from .cascade_node import CascadeLoop
        from .clip_node import UpscaleClipThenBoomerang
        from .face_nodes import AnonymizeFaces, BoomerangFaceDetect, FaceIdentityDistance
        from .pixel_loader import PixelDiffusionLoader
        from .tiling_node import BoomerangTiledModel
        from .upscale_node import UpscaleThenBoomerang
        from .vae_nodes import BoomerangVAEDecode, BoomerangVAEEncode

        return [BoomerangNoise, PartialReverseSampler, CascadeLoop, UpscaleThenBoomerang, Boomerang,
                BoomerangExactSampler, BoomerangFastSampler, BoomerangSigmas, PixelDiffusionLoader,
                BoomerangItemSeeds, BoomerangPerItemModel, BoomerangTiledModel, BoomerangFaceDetect,
                FaceIdentityDistance, AnonymizeFaces, BoomerangVAEEncode, BoomerangVAEDecode, UpscaleClipThenBoomerang]
