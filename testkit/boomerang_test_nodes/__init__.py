"""Test-only ComfyUI nodes (loaded beside the pack by the harness, never shipped to users).

* BoomerangTestOracleModel: the exact denoiser of Gaussian data x0 ~ N(mu, s^2) as a real ComfyUI MODEL
  (EPS, v-prediction or flow), so sampler outputs can be checked against a closed-form law.
* BoomerangTestMixtureOracleModel: the exact denoiser of two-Gaussian mixture data (testkit/mixture_law.py).
* BoomerangTestLatent: a constant latent of any shape.
* BoomerangTestCapture: an output node that hands LATENT/IMAGE tensors back to the test process.
* BoomerangTestObject: hands the graph what the test process put in ``OBJECTS[key]`` (a MODEL, VAE,
  CONDITIONING, IMAGE or LATENT built in memory, e.g. the tiny model families of testkit/families.py).
* BoomerangTestNaNModel / BoomerangTestNaNVAE: a model (through a model_function_wrapper) or a VAE (its decode)
  that returns NaN, as fp16 models and VAEs do on real rigs now and then.
"""
from __future__ import annotations

import torch

import comfy.latent_formats
import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.pixel_space_convert
import comfy.sd
import comfy.supported_models_base
from comfy_api.latest import ComfyExtension, io

CAPTURED: dict[str, object] = {}
OBJECTS: dict[str, dict] = {}  # key -> {"model", "vae", "positive", "negative", "image", "latent"}: set by tests
OBJECT_OUTPUTS = ("model", "vae", "positive", "negative", "image", "latent")
CALLS: dict[str, int] = {}
KINDS = {"eps": comfy.model_base.ModelType.EPS, "v": comfy.model_base.ModelType.V_PREDICTION,
         "flow": comfy.model_base.ModelType.FLOW}


class OracleNet(torch.nn.Module):
    """Returns the model output whose ``denoised`` is E[x0 | x_t] for x0 ~ N(mu, s^2) elementwise."""

    def __init__(self, kind: str, mu: float, s: float, tag: str, interrupt_after: int):
        super().__init__()
        self.kind, self.mu, self.var, self.tag, self.interrupt_after = kind, mu, s * s, tag, interrupt_after
        self.model_sampling = None  # set after the BaseModel exists
        self.dtype = torch.float32

    def forward(self, x, timesteps, context=None, **kwargs):
        CALLS[self.tag] = CALLS.get(self.tag, 0) + 1
        if self.interrupt_after and CALLS[self.tag] >= self.interrupt_after:
            comfy.model_management.interrupt_current_processing(True)
        x = x.double()
        if self.kind == "flow":
            sigma = (timesteps.double() / self.model_sampling.multiplier).view(-1, *([1] * (x.ndim - 1)))
            xs, a = x, 1.0 - sigma
        else:
            sigma = self.model_sampling.sigma(timesteps).double().view(-1, *([1] * (x.ndim - 1)))
            xs, a = x * torch.sqrt(sigma ** 2 + 1.0), 1.0
        precision = 1.0 / self.var + a * a / sigma ** 2
        x0 = (self.mu / self.var + a * xs / sigma ** 2) / precision
        if self.kind == "v":
            out = (xs / (sigma ** 2 + 1.0) - x0) * torch.sqrt(sigma ** 2 + 1.0) / sigma
        else:
            out = (xs - x0) / sigma
        return out.float()


class _UnitLatentConfig(comfy.supported_models_base.BASE):
    unet_config = {"disable_unet_model_creation": True}
    unet_extra_config = {}
    latent_format = comfy.latent_formats.LatentFormat  # scale 1: the law holds in latent units
    memory_usage_factor = 1.0


def oracle_model(kind: str, mu: float, s: float, shift: float, tag: str, interrupt_after: int = 0):
    config = _UnitLatentConfig({"disable_unet_model_creation": True})
    if kind == "flow":
        config.sampling_settings = {"shift": shift, "multiplier": 1000}
    model = comfy.model_base.BaseModel(config, model_type=KINDS[kind], device=torch.device("cpu"))
    net = OracleNet(kind, mu, s, tag, interrupt_after)
    model.diffusion_model = net
    net.model_sampling = model.model_sampling
    return _cpu_patcher(model)


def _cpu_patcher(model):
    """A ModelPatcher that keeps ``model`` on the CPU (the oracles are exact closed forms, cheap anywhere)."""
    return comfy.model_patcher.ModelPatcher(model, load_device=torch.device("cpu"), offload_device=torch.device("cpu"))


class BoomerangTestOracleModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="BoomerangTestOracleModel", category="_boomerang_tests",
            inputs=[io.Combo.Input("kind", options=list(KINDS)), io.Float.Input("mu", default=0.0, min=-100, max=100),
                    io.Float.Input("s", default=1.0, min=0.001, max=100),
                    io.Float.Input("shift", default=1.0, min=0.01, max=100),
                    io.String.Input("tag", default="oracle"),
                    io.Int.Input("interrupt_after", default=0, min=0, max=10**9)],
            outputs=[io.Model.Output(), io.Conditioning.Output()],
            not_idempotent=True,
        )

    @classmethod
    def execute(cls, kind, mu, s, shift, tag, interrupt_after) -> io.NodeOutput:
        CALLS[tag] = 0
        cond = [[torch.zeros(1, 1, 8), {}]]
        return io.NodeOutput(oracle_model(kind, mu, s, shift, tag, interrupt_after), cond)


def _mixture_law():
    """testkit/mixture_law.py (the repo root is on sys.path wherever tests and benchmarks run: pytest's pythonpath,
    ``python -m`` from the root)."""
    from testkit import mixture_law

    return mixture_law


def mixture_model(kind: str, mix, shift: float, tag: str):
    """A ComfyUI MODEL (EPS or flow) whose denoiser is exact for two-Gaussian mixture data (testkit/mixture_law.py)."""
    config = _UnitLatentConfig({"disable_unet_model_creation": True})
    if kind == "flow":
        config.sampling_settings = {"shift": shift, "multiplier": 1000}
    model = comfy.model_base.BaseModel(config, model_type=KINDS[kind], device=torch.device("cpu"))

    def count():
        CALLS[tag] = CALLS.get(tag, 0) + 1

    ms = model.model_sampling
    if kind == "flow":
        def sigma_of(t):
            return t / ms.multiplier
    else:
        sigma_of = ms.sigma
    model.diffusion_model = _mixture_law().MixtureOracleNet(kind, mix, sigma_of, on_call=count)
    return _cpu_patcher(model)


class BoomerangTestMixtureOracleModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="BoomerangTestMixtureOracleModel", category="_boomerang_tests",
            inputs=[io.Combo.Input("kind", options=["eps", "flow"]),
                    io.Float.Input("w", default=0.5, min=0.001, max=0.999),
                    io.Float.Input("m1", default=-1.0, min=-100, max=100),
                    io.Float.Input("s1", default=0.5, min=0.001, max=100),
                    io.Float.Input("m2", default=1.0, min=-100, max=100),
                    io.Float.Input("s2", default=0.5, min=0.001, max=100),
                    io.Float.Input("shift", default=1.0, min=0.01, max=100), io.String.Input("tag", default="oracle")],
            outputs=[io.Model.Output(), io.Conditioning.Output()],
            not_idempotent=True,
        )

    @classmethod
    def execute(cls, kind, w, m1, s1, m2, s2, shift, tag) -> io.NodeOutput:
        CALLS[tag] = 0
        mix = _mixture_law().Mixture(w=w, m1=m1, s1=s1, m2=m2, s2=s2)
        return io.NodeOutput(mixture_model(kind, mix, shift, tag), [[torch.zeros(1, 1, 8), {}]])


class BoomerangTestLatent(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="BoomerangTestLatent", category="_boomerang_tests",
            inputs=[io.Float.Input("value", default=0.0, min=-1000, max=1000),
                    io.Int.Input("batch", default=1, min=0, max=4096),
                    io.Int.Input("channels", default=4, min=1, max=64),
                    io.Int.Input("height", default=8, min=1, max=4096),
                    io.Int.Input("width", default=8, min=1, max=4096), io.Boolean.Input("with_extras", default=False)],
            outputs=[io.Latent.Output()],
        )

    @classmethod
    def execute(cls, value, batch, channels, height, width, with_extras) -> io.NodeOutput:
        out = {"samples": torch.full((batch, channels, height, width), float(value))}
        if with_extras:
            mask = torch.zeros(batch, 1, height, width)
            mask[..., : height // 2, :] = 1.0  # top half is resampled, bottom half must stay x0
            out["noise_mask"] = mask
            out["batch_index"] = [10 + i for i in range(batch)]
        return io.NodeOutput(out)


class BoomerangTestCapture(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="BoomerangTestCapture", category="_boomerang_tests", is_output_node=True, not_idempotent=True,
            inputs=[io.String.Input("tag", default="out"), io.Latent.Input("latent", optional=True),
                    io.Image.Input("image", optional=True), io.Sigmas.Input("sigmas", optional=True),
                    io.Float.Input("number", optional=True, force_input=True),
                    io.String.Input("text", optional=True, force_input=True)],
            outputs=[],
        )

    @classmethod
    def execute(cls, tag, latent=None, image=None, sigmas=None, number=None, text=None) -> io.NodeOutput:
        CAPTURED[tag] = {"latent": latent, "image": image, "sigmas": sigmas, "number": number, "text": text}
        return io.NodeOutput()


class BoomerangTestObject(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="BoomerangTestObject", category="_boomerang_tests", not_idempotent=True,
            inputs=[io.String.Input("key", default="")],
            outputs=[io.Model.Output(), io.Vae.Output(), io.Conditioning.Output("positive"),
                     io.Conditioning.Output("negative"), io.Image.Output(), io.Latent.Output()],
        )

    @classmethod
    def execute(cls, key) -> io.NodeOutput:
        entry = OBJECTS[key]
        return io.NodeOutput(*(entry.get(name) for name in OBJECT_OUTPUTS))


def _nan_wrapper(apply_model, args):
    out = apply_model(args["input"], args["timestep"], **args["c"])
    return out * float("nan")


class BoomerangTestNaNModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="BoomerangTestNaNModel", category="_boomerang_tests",
                         inputs=[io.Model.Input("model")], outputs=[io.Model.Output()])

    @classmethod
    def execute(cls, model) -> io.NodeOutput:
        clone = model.clone()
        clone.set_model_unet_function_wrapper(_nan_wrapper)
        return io.NodeOutput(clone)


class _NaNDecoder(comfy.pixel_space_convert.PixelspaceConversionVAE):
    def decode(self, z, *args, **kwargs):
        return super().decode(z, *args, **kwargs) * float("nan")


class BoomerangTestNaNVAE(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="BoomerangTestNaNVAE", category="_boomerang_tests",
                         inputs=[], outputs=[io.Vae.Output()])

    @classmethod
    def execute(cls) -> io.NodeOutput:
        vae = comfy.sd.VAE(sd={"pixel_space_vae": torch.tensor(1.0)})  # ComfyUI's pass-through pixel VAE
        vae.first_stage_model = _NaNDecoder()  # whose decoder returns NaN
        return io.NodeOutput(vae)


class _TestExtension(ComfyExtension):
    async def get_node_list(self):
        return [BoomerangTestOracleModel, BoomerangTestMixtureOracleModel, BoomerangTestLatent, BoomerangTestCapture,
                BoomerangTestObject, BoomerangTestNaNModel, BoomerangTestNaNVAE]


async def comfy_entrypoint():
    return _TestExtension()


__all__ = ["comfy_entrypoint", "CAPTURED", "CALLS", "OBJECTS"]
