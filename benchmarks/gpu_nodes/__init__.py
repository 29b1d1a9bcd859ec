"""Nodes of the GPU check (loaded beside the pack by ``benchmarks.gpu_check``, never shipped to users).

* BoomerangGpuModel: a full-size (or tiny) SD1.5 / SDXL UNet with random weights, a random SD VAE (TAESD when
  tiny) and random
  prompt embeddings, built in memory (``benchmarks.gpu_models``): MODEL, VAE, positive, negative.
* BoomerangGpuOnDevice: a MODEL (e.g. the tests' Gaussian oracle, built for the CPU) loaded on ComfyUI's torch
  device instead, so the same graphs run there.
"""
from __future__ import annotations

import time

from comfy_api.latest import ComfyExtension, io

from benchmarks import gpu_models

BUILT: dict[str, dict] = {}  # "family/size/seed" -> parameters, dtype, class, build time of the last build


class BoomerangGpuModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="BoomerangGpuModel", category="_boomerang_gpu_check",
            inputs=[io.Combo.Input("family", options=list(gpu_models.FAMILIES)),
                    io.Combo.Input("size", options=["full", "tiny"]),
                    io.Int.Input("seed", default=0, min=0, max=2**31 - 1)],
            outputs=[io.Model.Output(), io.Vae.Output(), io.Conditioning.Output(display_name="positive"),
                     io.Conditioning.Output(display_name="negative")],
        )

    @classmethod
    def execute(cls, family, size, seed) -> io.NodeOutput:
        start = time.perf_counter()
        model, info = gpu_models.build_unet(family, size, seed)
        vae = gpu_models.build_vae(seed + 1, size)
        BUILT[f"{family}/{size}/{seed}"] = {**info, "build_seconds": time.perf_counter() - start}
        return io.NodeOutput(model, vae, gpu_models.conditioning(family, size, seed + 2),
                             gpu_models.conditioning(family, size, seed + 3))


class BoomerangGpuOnDevice(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="BoomerangGpuOnDevice", category="_boomerang_gpu_check",
                         inputs=[io.Model.Input("model")], outputs=[io.Model.Output()])

    @classmethod
    def execute(cls, model) -> io.NodeOutput:
        import comfy.model_management

        moved = model.clone()
        moved.load_device = comfy.model_management.get_torch_device()
        return io.NodeOutput(moved)


class _GpuExtension(ComfyExtension):
    async def get_node_list(self):
        return [BoomerangGpuModel, BoomerangGpuOnDevice]


async def comfy_entrypoint():
    return _GpuExtension()


__all__ = ["comfy_entrypoint", "BUILT"]
