"""Exact oracle models on each family's own ``model_sampling``, for the per-family guidance bench (issue 18 part 4).

A family's sampling is taken from ComfyUI itself: its ``comfy.supported_models`` config class builds its
``comfy.model_base`` model (``get_model`` with ``disable_unet_model_creation``: no network, no weights), whose
``model_sampling`` (class, schedule, shift) is the family's. ComfyUI's detection picks the variant where a family
has several (SD2's v-prediction, SDXL's EDM Playground v2.5) from the state-dict keys it reads. The settings
ComfyUI's own templates add on top (``ModelSamplingFlux`` at 1024 px, ``ModelSamplingSD3``/``AuraFlow`` shifts)
are ComfyUI nodes the graph runs.

The oracle is a plain BaseModel with a unit latent format (scale 1, so the laws hold in latent units) carrying
that ``model_sampling`` as an object patch, and a ``model_function_wrapper`` returning the exact denoiser
E[x0 | x] of Gaussian or two-mode mixture data: x = a x0 + s eps with (a, s) read off the model's own
``noise_scaling`` at the sigma the sampler asks for. The samplers see only the denoised output, so the
parameterisation (eps, v, x0, EDM) does not matter; what differs between families is the sigmas and the forward
scaling, which is what this measures.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from testkit.mixture_law import Mixture, denoise_torch

CPU = torch.device("cpu")


@dataclass(frozen=True)
class Family:
    name: str
    label: str
    config: str  # comfy.supported_models class
    detect: str = ""  # "v": SD2's v-prediction keys; "edm": SDXL's EDM (Playground v2.5) keys
    patch: tuple = ()  # (ComfyUI node class, inputs) the family's ComfyUI template runs on the model
    guidance: str = ""  # cfg / guidance, with its source
    note: str = ""
    patch_source: str = ""


_TEMPLATES = "ComfyUI's workflow templates (comfyui-workflow-templates 0.7.25)"
FAMILIES = (
    Family("sd15", "SD1.5", "SD15", guidance="cfg 7.5 (the paper's Stable Diffusion setting)"),
    Family("sdxl", "SDXL", "SDXL", guidance=f"cfg 8 ({_TEMPLATES}: sdxl_simple_example)"),
    Family("sd2_v", "SD2.x 768-v", "SD20", detect="v", guidance="cfg 7 - 8 (as SD1.5)",
           note="v-prediction changes only what the network outputs; the sampler sees the same sigmas"),
    Family("playground", "Playground v2.5 (SDXL EDM)", "SDXL", detect="edm",
           guidance="cfg about 3 (EDM models saturate at SD's 7 - 8)"),
    Family("sd35", "SD3.5", "SD3", guidance=f"cfg 4 - 4.5 ({_TEMPLATES}: sd3.5_simple_example, sd3.5_large_*)"),
    Family("flux_dev", "Flux.1 dev", "Flux",
           patch=("ModelSamplingFlux", {"max_shift": 1.15, "base_shift": 0.5, "width": 1024, "height": 1024}),
           patch_source="ModelSamplingFlux at 1024 x 1024 (ComfyUI's default when the node is absent too)",
           guidance=f"cfg 1 with FluxGuidance 3.5 ({_TEMPLATES}: flux_dev_checkpoint_example); cfg 1 makes one "
                    "model call per evaluation"),
    Family("qwen_image", "Qwen-Image", "QwenImage", patch=("ModelSamplingAuraFlow", {"shift": 3.1}),
           patch_source=f"ModelSamplingAuraFlow 3.1 ({_TEMPLATES}: image_qwen_image)",
           guidance=f"cfg 2.5 ({_TEMPLATES}: image_qwen_image)"),
    Family("chroma", "Chroma", "Chroma", patch=("ModelSamplingAuraFlow", {"shift": 1.0}),
           patch_source=f"ModelSamplingAuraFlow 1 ({_TEMPLATES}: image_chroma_text_to_image)",
           guidance=f"cfg 3.5 ({_TEMPLATES}: image_chroma_text_to_image, CFGGuider)"),
    Family("lumina2", "Lumina 2 (as loaded: shift 6)", "Lumina2",
           guidance=f"cfg 4 ({_TEMPLATES}: image_netayume_lumina_t2i, which sets shift 4)"),
    Family("z_image", "Z-Image Turbo", "ZImage", patch=("ModelSamplingAuraFlow", {"shift": 3.0}),
           patch_source=f"ModelSamplingAuraFlow 3 ({_TEMPLATES}: image_z_image_turbo)",
           guidance=f"cfg 1 ({_TEMPLATES}: image_z_image_turbo)"),
    Family("hidream", "HiDream I1 full", "HiDream", patch=("ModelSamplingSD3", {"shift": 3.0}),
           patch_source=f"ModelSamplingSD3 3 ({_TEMPLATES}: hidream_i1_full)",
           guidance=f"cfg 5 ({_TEMPLATES}: hidream_i1_full)"),
    Family("wan22_5b", "Wan 2.2 TI2V 5B (shift 8)", "WAN22_T2V", patch=("ModelSamplingSD3", {"shift": 8.0}),
           patch_source=f"ModelSamplingSD3 8 ({_TEMPLATES}: video_wan2_2_5B_ti2v)",
           guidance=f"cfg 5 ({_TEMPLATES}: video_wan2_2_5B_ti2v)"),
    Family("wan22_14b_low", "Wan 2.2 14B low-noise expert (shift 5)", "WAN22_T2V",
           patch=("ModelSamplingSD3", {"shift": 5.0}),
           patch_source=f"ModelSamplingSD3 5 ({_TEMPLATES}: video_wan2_2_14B_t2v)",
           guidance=f"cfg 3.5 ({_TEMPLATES}: video_wan2_2_14B_t2v)",
           note="local sampling below the experts' switch level needs only the low-noise expert"),
    Family("hunyuan_video", "HunyuanVideo", "HunyuanVideo", patch=("ModelSamplingSD3", {"shift": 7.0}),
           patch_source=f"ModelSamplingSD3 7 ({_TEMPLATES}: hunyuan_video_text_to_video)",
           guidance=f"cfg 1 with FluxGuidance 6 ({_TEMPLATES}: hunyuan_video_text_to_video)"),
    Family("ltxv", "LTX-Video", "LTXV", guidance=f"cfg 3 ({_TEMPLATES}: ltxv_text_to_video)",
           note="its templates take their sigmas from LTXVScheduler; Boomerang's t_boom level comes from the "
                "model's own model_sampling (ModelSamplingFlux, shift 2.37)"),
    Family("cosmos_predict2", "Cosmos Predict2", "CosmosT2IPredict2", guidance="cfg as its model card says",
           note="EDM range (sigma 0.002 - 80) with rectified-flow scaling inside the model"),
)
BY_NAME = {f.name: f for f in FAMILIES}


def _detect_state_dict(detect: str) -> dict:
    """The keys ComfyUI's config classes read to pick a variant (values only need the right statistics)."""
    if detect == "v":  # SD20.model_type: std of this bias above 0.09 -> v-prediction
        return {"output_blocks.11.1.transformer_blocks.0.norm1.bias": torch.linspace(-1.0, 1.0, 8)}
    if detect == "edm":  # SDXL.model_type: edm_mean/edm_std present -> EDM (Playground v2.5)
        return {"edm_mean": torch.zeros(1), "edm_std": torch.ones(1)}
    return {}


def family_model_sampling(family: Family):
    """The family's ``model_sampling`` as ComfyUI builds it from its config class (before template patches)."""
    import comfy.supported_models

    config = getattr(comfy.supported_models, family.config)({"disable_unet_model_creation": True, "in_channels": 4})
    base = config.get_model(_detect_state_dict(family.detect), device=CPU)
    return base.model_sampling, base.model_type.name


@dataclass
class Counter:
    calls: int = 0


@dataclass(frozen=True)
class GaussianLaw:
    mu: float
    s: float

    def denoise(self, x: torch.Tensor, a, sd) -> torch.Tensor:
        precision = 1.0 / self.s ** 2 + a * a / (sd * sd)
        return (self.mu / self.s ** 2 + a * x / (sd * sd)) / precision


@dataclass(frozen=True)
class MixtureLaw:
    mix: Mixture

    def denoise(self, x: torch.Tensor, a, sd) -> torch.Tensor:
        return denoise_torch(self.mix, x, a, sd)


def exact_wrapper(law, counter: Counter):
    """A ``model_function_wrapper`` returning E[x0 | x] under ``law`` for the sampling the model carries now (object
    patches, e.g. ModelSamplingSD3's, are applied to the model while it samples)."""
    def wrapper(apply_model, args):
        counter.calls += 1
        x = args["input"].double()
        sigma = args["timestep"].double().reshape(-1, *([1] * (x.ndim - 1)))
        ms = apply_model.__self__.model_sampling
        a = ms.noise_scaling(sigma, torch.zeros_like(sigma), torch.ones_like(sigma), max_denoise=False)
        sd = ms.noise_scaling(sigma, torch.ones_like(sigma), torch.zeros_like(sigma), max_denoise=False)
        return law.denoise(x, a, sd).to(args["input"].dtype)

    return wrapper


class _Unused(torch.nn.Module):
    """The network slot: never called (the wrapper returns the denoised output itself)."""

    dtype = torch.float32

    def forward(self, *args, **kwargs):
        raise RuntimeError("the family oracle's network is replaced by its model_function_wrapper")


@dataclass
class OracleEntry:
    model: object
    positive: list
    counter: Counter = field(default_factory=Counter)


def oracle(family: Family, law) -> OracleEntry:
    """A MODEL whose model_sampling is ``family``'s and whose denoiser is exact for ``law`` (calls counted)."""
    import comfy.latent_formats
    import comfy.model_base
    import comfy.model_patcher
    import comfy.supported_models_base

    class _UnitLatent(comfy.supported_models_base.BASE):
        unet_config = {"disable_unet_model_creation": True}
        unet_extra_config = {}
        latent_format = comfy.latent_formats.LatentFormat  # scale 1: the laws hold in latent units
        memory_usage_factor = 1.0

    ms, model_type = family_model_sampling(family)
    base = comfy.model_base.BaseModel(_UnitLatent({"disable_unet_model_creation": True}),
                                      model_type=getattr(comfy.model_base.ModelType, model_type), device=CPU)
    base.diffusion_model = _Unused()
    patcher = comfy.model_patcher.ModelPatcher(base, load_device=CPU, offload_device=CPU)
    patcher.add_object_patch("model_sampling", ms)
    entry = OracleEntry(patcher, [[torch.zeros(1, 1, 8), {}]])
    patcher.set_model_unet_function_wrapper(exact_wrapper(law, entry.counter))
    return entry
