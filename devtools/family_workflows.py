"""The workflows made for the model families users load (issue 18): SDXL, Flux dev, Qwen-Image and Wan 2.2 5B.

Each family has a PRE 4x workflow and a local-variations strip, and Wan 2.2 also a clip-variation and a clip-PRE
workflow. Loaders, file names and settings are those of each family's official ComfyUI example workflows (loader
node ids, input names and type values checked against ComfyUI 0.3.75's node definitions); the fast setting is
boomerang/advice.py's RECOMMENDED, the cfg is the family's own.

t_boom levels: SDXL has SD1.5's noise schedule (scaled_linear, T = 1000), so SD1.5's levels carry over. For the
flow families t_boom/1000 is the flow time before the model's shift; the levels here give the same
noise-to-signal ratio sigma as SD1.5 at the paper's levels (VP: sigma = sqrt((1 - a)/a); flow: sigma = s/(1 - s)
with s the shifted flow time), computed with Flux's default shift (mu 1.15), ModelSamplingAuraFlow 3.1 (Qwen) and
ModelSamplingSD3 8 (Wan). UpscaleThenBoomerang's automatic t_boom (t_boom 0) is the SD fraction of T, too strong
on shifted flow models, so the flow families' PRE workflows set t_boom.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .workflow_format import UIWorkflow
from .workflow_layout import (
    BOOMERANG_SIZE,
    COL_LOADERS,
    COL_PROMPTS,
    DECODE_SIZE,
    FAST,
    GAP,
    IMAGE,
    ROW,
    STITCH,
    STITCH_SIZE,
    TITLE,
    VIDEO,
    below,
    right_of,
    strip_columns,
)

NOTE_SIZE = (800, 290)
TOP = 20 + NOTE_SIZE[1] + GAP + TITLE
LOADER_W, PROMPT_W = 340, 400
PROMPT_H = 160


@dataclass(frozen=True)
class Family:
    key: str  # file name prefix
    name: str
    cfg: float
    files: tuple  # (folder under ComfyUI/models, file name)
    guidance: str  # the note's line on cfg / guidance
    t_unit: str  # what t_boom means
    pre_t_boom: int  # PRE 4x level (0: the node's automatic level)
    levels: tuple  # variation strip: augmentation, augmentation, anonymization, anonymization
    tile: int  # denoise tile side: the model's training size
    prompt: str = "a high quality, detailed photograph"
    extra: dict = field(default_factory=dict)


SDXL = Family(
    "sdxl", "SDXL 1.0", 7.5, (("checkpoints", "sd_xl_base_1.0.safetensors"),),
    "cfg 7.5 (negative prompt used)", "t_boom is an integer timestep of T = 1000 (SD1.5's schedule)",
    0, (250, 400, 600, 800), 1024)
FLUX = Family(
    "flux_dev", "FLUX.1 dev", 1.0,
    (("diffusion_models", "flux1-dev.safetensors"), ("text_encoders", "clip_l.safetensors"),
     ("text_encoders", "t5xxl_fp16.safetensors"), ("vae", "ae.safetensors")),
    "cfg 1.0 with Flux Guidance 3.5 on the prompt (at cfg 1 the negative prompt is not used)",
    "t_boom/1000 is the flow time before Flux's shift", 150, (180, 270, 420, 620), 1024,
    extra={"guidance": 3.5})
QWEN = Family(
    "qwen_image", "Qwen-Image", 2.5,
    (("diffusion_models", "qwen_image_fp8_e4m3fn.safetensors"),
     ("text_encoders", "qwen_2.5_vl_7b_fp8_scaled.safetensors"), ("vae", "qwen_image_vae.safetensors")),
    "cfg 2.5 (negative prompt used); ModelSamplingAuraFlow shift 3.1",
    "t_boom/1000 is the flow time before the shift (3.1)", 150, (180, 270, 420, 620), 1024,
    extra={"shift": 3.1})
WAN = Family(
    "wan22", "Wan 2.2 TI2V 5B", 5.0,
    (("diffusion_models", "wan2.2_ti2v_5B_fp16.safetensors"),
     ("text_encoders", "umt5_xxl_fp8_e4m3fn_scaled.safetensors"), ("vae", "wan2.2_vae.safetensors")),
    "cfg 5.0 (negative prompt used); ModelSamplingSD3 shift 8",
    "t_boom/1000 is the flow time before the shift (8)", 65, (80, 130, 220, 390), 1024,
    extra={"shift": 8.0})
FAMILIES = (SDXL, FLUX, QWEN, WAN)
CLIP_T_BOOM = {"variation": 95, "pre": 65}  # Wan clips: SD1.5's 300 and 200 (see the module docstring)


def note_text(family: Family, what: str) -> str:
    files = "; ".join(f"models/{folder}/{name}" for folder, name in family.files)
    aug, aug2, anon, anon2 = family.levels
    return (f"Made for {family.name}. Files: {files}.\n\nChange first: the input in Load "
            f"{'Video' if 'clip' in what else 'Image'}, then the model files if yours are named otherwise.\n\n"
            f"Settings: {family.guidance}; {FAST['sampler']} + {FAST['scheduler']}, {FAST['steps']} steps "
            f"(the pack's recommended fast setting). {family.t_unit}. t_boom ranges: augmentation {aug}-{aug2}, "
            f"anonymization {anon}-{anon2}, PRE 4x {family.pre_t_boom or 200} (the same noise-to-signal as SD1.5 "
            f"at 250-400, 600-800 and 200). More t_boom: more change.\n\n{what}")


def _loaders(wf: UIWorkflow, family: Family, image_node: str = "LoadImage"):
    """Loader nodes in the first column, prompts (and the family's model or prompt patch) in the second. Returns
    (model, vae, positive, negative) as (node key, output slot)."""
    y = TOP
    if family is SDXL:
        wf.add("ckpt", "CheckpointLoaderSimple", (COL_LOADERS, y), {"ckpt_name": family.files[0][1]},
               size=(LOADER_W, 100))
        model, clip, vae, y = ("ckpt", 0), ("ckpt", 1), ("ckpt", 2), below(y, 100)
    else:
        wf.add("unet", "UNETLoader", (COL_LOADERS, y), {"unet_name": family.files[0][1], "weight_dtype": "default"},
               title="Load Diffusion Model", size=(LOADER_W, 100))
        y = below(y, 100)
        if family is FLUX:
            wf.add("clip", "DualCLIPLoader", (COL_LOADERS, y),
                   {"clip_name1": family.files[1][1], "clip_name2": family.files[2][1], "type": "flux"},
                   size=(LOADER_W, 140))
            y = below(y, 140)
        else:
            wf.add("clip", "CLIPLoader", (COL_LOADERS, y),
                   {"clip_name": family.files[1][1], "type": "wan" if family is WAN else "qwen_image"},
                   size=(LOADER_W, 120))
            y = below(y, 120)
        wf.add("vae", "VAELoader", (COL_LOADERS, y), {"vae_name": family.files[-1][1]}, size=(LOADER_W, 70))
        model, clip, vae, y = ("unet", 0), ("clip", 0), ("vae", 0), below(y, 70)
    if image_node == "LoadImage":
        wf.add("img", "LoadImage", (COL_LOADERS, y), {"image": IMAGE}, size=(LOADER_W, 340))
    else:
        wf.add("video", "LoadVideo", (COL_LOADERS, y), {"file": VIDEO}, size=(LOADER_W, 460))
        wf.add("frames", "GetVideoComponents", (COL_LOADERS, below(y, 460)), links={"video": ("video", 0)},
               size=(LOADER_W, 130))
    wf.add("pos", "CLIPTextEncode", (COL_PROMPTS, TOP), {"text": family.prompt}, {"clip": clip},
           title="Positive prompt", size=(PROMPT_W, PROMPT_H))
    y_neg = below(TOP, PROMPT_H)
    wf.add("neg", "CLIPTextEncode", (COL_PROMPTS, y_neg), {"text": ""}, {"clip": clip},
           title="Negative prompt", size=(PROMPT_W, PROMPT_H))
    positive, y_patch = ("pos", 0), below(y_neg, PROMPT_H)
    if family is FLUX:
        wf.add("guidance", "FluxGuidance", (COL_PROMPTS, y_patch), {"guidance": family.extra["guidance"]},
               {"conditioning": ("pos", 0)}, size=(PROMPT_W, 80))
        positive = ("guidance", 0)
    elif family in (QWEN, WAN):
        node = "ModelSamplingAuraFlow" if family is QWEN else "ModelSamplingSD3"
        wf.add("shift", node, (COL_PROMPTS, y_patch), {"shift": family.extra["shift"]}, {"model": model},
               size=(PROMPT_W, 80))
        model = ("shift", 0)
    return model, vae, positive, ("neg", 0)


def _settings(family: Family, t_boom: int, seed: int) -> dict:
    return {"t_boom": t_boom, "seed": seed, "cfg": family.cfg, **FAST}


def _pre_widgets(family: Family, t_boom: int) -> dict:
    """Upscale (Clip) then Boomerang at 4x: one pass, VAE tiles of 512 px, model tiles of the training size."""
    return {"factor": 4.0, "interpolation": "bilinear", "passes": 1, **_settings(family, t_boom, 0),
            "tile_size": 512, "color_match": "mean", "denoise_tiling": "auto", "denoise_tile": family.tile}


def pre_4x(nodes, family: Family) -> UIWorkflow:
    wf = UIWorkflow(nodes)
    wf.note(note_text(family, "Perceptual resolution enhancement 4x (paper section 6.3): bilinear upscale, then one "
                      f"Boomerang pass at t_boom {family.pre_t_boom or 'automatic (0 = 0.2 T at 4x)'}. Feed a small "
                      f"image; the model denoises in tiles of {family.tile} px."), (COL_LOADERS, 20), size=NOTE_SIZE)
    model, vae, pos, neg = _loaders(wf, family)
    x_pre = right_of(COL_PROMPTS, PROMPT_W)
    wf.add("pre", "UpscaleThenBoomerang", (x_pre, TOP),
           _pre_widgets(family, family.pre_t_boom),
           {"image": ("img", 0), "vae": vae, "model": model, "positive": pos, "negative": neg},
           title="Upscale 4x then Boomerang", size=(360, 560))
    wf.add("save", "SaveImage", (right_of(x_pre, 360), TOP), {"filename_prefix": f"boomerang/{family.key}_pre_4x"},
           {"images": ("pre", 0)}, size=(420, 460))
    return wf


def variations(nodes, family: Family) -> UIWorkflow:
    wf = UIWorkflow(nodes)
    levels = family.levels
    wf.note(note_text(family, f"Local variations: Boomerang at t_boom {levels[0]} and {levels[1]} (augmentation: "
                      f"the same picture, other details) and {levels[2]} and {levels[3]} (anonymization: "
                      "another person in the same scene). The saved strip is original | "
                      + " | ".join(map(str, levels)) + ". Change the seeds for other samples."),
            (COL_LOADERS, 20), size=NOTE_SIZE)
    model, vae, pos, neg = _loaders(wf, family)
    x_enc = right_of(COL_PROMPTS, PROMPT_W)
    wf.add("enc", "VAEEncode", (x_enc, TOP), links={"pixels": ("img", 0), "vae": vae}, size=DECODE_SIZE)
    x_boom, x_dec, x_stitch = strip_columns(x_enc)
    prev = "img"
    for i, t in enumerate(levels):
        y = TOP + i * ROW
        wf.add(f"boom{t}", "Boomerang", (x_boom, y), _settings(family, t, i),
               {"model": model, "positive": pos, "negative": neg, "latent": ("enc", 0)},
               title=f"Boomerang t_boom {t}", size=BOOMERANG_SIZE)
        wf.add(f"dec{t}", "VAEDecode", (x_dec, y), links={"samples": (f"boom{t}", 0), "vae": vae}, size=DECODE_SIZE)
        wf.add(f"stitch{t}", "ImageStitch", (x_stitch, y), STITCH, {"image1": (prev, 0), "image2": (f"dec{t}", 0)},
               size=STITCH_SIZE)
        prev = f"stitch{t}"
    x_save = right_of(x_stitch, STITCH_SIZE[0])
    wf.add("save", "SaveImage", (x_save, TOP), {"filename_prefix": f"boomerang/{family.key}_variations"},
           {"images": (prev, 0)}, size=(420, 340))
    wf.group("Augmentation (first two) and anonymization (last two)",
             (x_boom - 20, TOP - TITLE - 50, x_save - x_boom, 4 * ROW + 40))
    return wf


def _save_clip(wf: UIWorkflow, images: tuple, x: int, prefix: str) -> None:
    """Frames -> Create Video (the source's frame rate and audio) -> Save Video."""
    wf.add("create", "CreateVideo", (x, TOP), {"fps": 24.0}, {"images": images, "fps": ("frames", 2),
                                                             "audio": ("frames", 1)}, size=(300, 120))
    wf.add("save", "SaveVideo", (right_of(x, 300), TOP), {"filename_prefix": prefix, "format": "auto",
                                                          "codec": "auto"}, {"video": ("create", 0)},
           size=(420, 420))


def clip_variation(nodes) -> UIWorkflow:
    family, t = WAN, CLIP_T_BOOM["variation"]
    wf = UIWorkflow(nodes)
    wf.note(note_text(family, f"Clip variation: the whole clip is VAE-encoded as one video latent (4 frames per "
                      f"latent frame, use 4k+1 frames: 17, 33, 81, 121), Boomerang at t_boom {t} resamples it "
                      "with one noise tensor for the clip, frames stay coherent. Frame rate and audio are kept."),
            (COL_LOADERS, 20), size=NOTE_SIZE)
    model, vae, pos, neg = _loaders(wf, family, "LoadVideo")
    x_enc = right_of(COL_PROMPTS, PROMPT_W)
    wf.add("enc", "VAEEncode", (x_enc, TOP), links={"pixels": ("frames", 0), "vae": vae}, size=DECODE_SIZE)
    x_boom = right_of(x_enc, DECODE_SIZE[0])
    wf.add("boom", "Boomerang", (x_boom, TOP), _settings(family, t, 0),
           {"model": model, "positive": pos, "negative": neg, "latent": ("enc", 0)},
           title=f"Boomerang on the clip, t_boom {t}", size=BOOMERANG_SIZE)
    x_dec = right_of(x_boom, BOOMERANG_SIZE[0])
    wf.add("dec", "VAEDecode", (x_dec, TOP), links={"samples": ("boom", 0), "vae": vae}, size=DECODE_SIZE)
    _save_clip(wf, ("dec", 0), right_of(x_dec, DECODE_SIZE[0]), "boomerang/wan22_clip_variation")
    return wf


def clip_pre_4x(nodes, clip_node: bool) -> UIWorkflow:
    """With the pack's clip node (UpscaleClipThenBoomerang) when this ComfyUI has it, else the plain chain
    ImageScaleBy -> VAEEncode -> Boomerang -> VAEDecode on the clip's video latent."""
    family, t = WAN, CLIP_T_BOOM["pre"]
    wf = UIWorkflow(nodes)
    how = ("Upscale Clip then Boomerang upscales every frame bilinearly" if clip_node else
           "the frames are upscaled bilinearly, VAE-encoded as one video latent")
    wf.note(note_text(family, f"Clip PRE 4x: {how}, then Boomerang at t_boom {t} adds detail to the whole clip at "
                      "once (one noise tensor, frames stay coherent). Use 4k+1 frames (17, 33, 81, 121) of a small "
                      "clip, e.g. 320x176 -> 1280x704. Frame rate and audio are kept."),
            (COL_LOADERS, 20), size=NOTE_SIZE)
    model, vae, pos, neg = _loaders(wf, family, "LoadVideo")
    x = right_of(COL_PROMPTS, PROMPT_W)
    links = {"model": model, "positive": pos, "negative": neg}
    if clip_node:
        wf.add("pre", "UpscaleClipThenBoomerang", (x, TOP),
               _pre_widgets(family, t),
               {"image": ("frames", 0), "vae": vae, **links}, title="Upscale clip 4x then Boomerang",
               size=(360, 560))
        _save_clip(wf, ("pre", 0), right_of(x, 360), "boomerang/wan22_clip_pre_4x")
        return wf
    wf.add("up", "ImageScaleBy", (x, TOP), {"upscale_method": "bilinear", "scale_by": 4.0},
           {"image": ("frames", 0)}, size=(260, 100))
    wf.add("enc", "VAEEncode", (x, below(TOP, 100)), links={"pixels": ("up", 0), "vae": vae}, size=DECODE_SIZE)
    x_boom = right_of(x, 260)
    wf.add("boom", "Boomerang", (x_boom, TOP), _settings(family, t, 0), {**links, "latent": ("enc", 0)},
           title=f"Boomerang on the clip, t_boom {t}", size=BOOMERANG_SIZE)
    x_dec = right_of(x_boom, BOOMERANG_SIZE[0])
    wf.add("dec", "VAEDecode", (x_dec, TOP), links={"samples": ("boom", 0), "vae": vae}, size=DECODE_SIZE)
    _save_clip(wf, ("dec", 0), right_of(x_dec, DECODE_SIZE[0]), "boomerang/wan22_clip_pre_4x")
    return wf


def all_workflows(nodes) -> dict[str, UIWorkflow]:
    out = {}
    for family in FAMILIES:
        out[f"{family.key}_pre_4x"] = pre_4x(nodes, family)
        out[f"{family.key}_variations"] = variations(nodes, family)
    out["wan22_clip_variation"] = clip_variation(nodes)
    out["wan22_clip_pre_4x"] = clip_pre_4x(nodes, "UpscaleClipThenBoomerang" in nodes)
    return out
