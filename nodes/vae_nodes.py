"""Boomerang VAE Encode / Decode: any image size in and out. Encode mirror-pads the image to the model's spatial
multiple (the VAE's ratio times the network's own multiple) and records the size; Decode crops back to it. Both
stop on NaN/inf with the stage, the VAE's dtype and the fix."""
from __future__ import annotations

from comfy_api.latest import io

from ..boomerang.checks import BoomerangInputError
from ..boomerang.imaging import pad_to_multiple
from . import inputs
from .comfy import sampling, vae_io

SIZE_KEY = "boomerang_size"  # (height, width) in pixels of the image before padding, in the LATENT dict


class BoomerangVAEEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="BoomerangVAEEncode",
            display_name="Boomerang VAE Encode (any size)",
            description="VAE Encode for images of any size: pads the image (mirrored edges) to the size this model "
                        "and VAE take, encodes it, and remembers the original size so Boomerang VAE Decode crops "
                        "back to it. Stops if the VAE returns NaN or infinite values.",
            search_aliases=["boomerang", "vae encode", "pad", "any size", "odd size"],
            inputs=[
                io.Image.Input("pixels", tooltip="Images of any size (a batch shares one size)."),
                io.Vae.Input("vae"),
                io.Model.Input("model", tooltip="The model the latent is for: its network's own size multiple "
                                                "is read from it."),
            ],
            outputs=[io.Latent.Output(display_name="LATENT")],
        )

    @classmethod
    def execute(cls, pixels, vae, model) -> io.NodeOutput:
        if pixels.shape[0] == 0:
            raise BoomerangInputError("pixels", "a batch of at least 1 image", "an empty batch (0 items)")
        padded, width, height = pad_to_multiple(pixels[..., :3], sampling.image_multiple(model, vae))
        return io.NodeOutput({"samples": vae_io.vae_encode(vae, padded), SIZE_KEY: (height, width)})


class BoomerangVAEDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="BoomerangVAEDecode",
            display_name="Boomerang VAE Decode (crop back)",
            description="VAE Decode that crops the image back to the size Boomerang VAE Encode recorded (other "
                        "latents decode at their full size). Stops if the VAE returns NaN or infinite values.",
            search_aliases=["boomerang", "vae decode", "crop", "any size"],
            inputs=[io.Latent.Input("samples", tooltip="A latent from Boomerang VAE Encode (then the Boomerang "
                                                       "nodes); it carries the size to crop back to."),
                    io.Vae.Input("vae")],
            outputs=[io.Image.Output(display_name="IMAGE")],
        )

    @classmethod
    def execute(cls, samples, vae) -> io.NodeOutput:
        pixels = vae_io.vae_decode(vae, samples["samples"])
        if pixels.ndim == 5:  # video VAEs: frames into the batch, as ComfyUI's VAEDecode does
            pixels = pixels.reshape(-1, *pixels.shape[-3:])
        size = samples.get(SIZE_KEY)
        if size is not None:
            pixels = pixels[:, : int(size[0]), : int(size[1])]
        return io.NodeOutput(pixels)
