"""Face nodes: BoomerangFaceDetect, FaceIdentityDistance, AnonymizeFaces (dlib is optional, loaded when one runs)."""
from __future__ import annotations

import json

import torch

from comfy_api.latest import io, ui

from ..boomerang import checks
from ..boomerang import faces as F
from ..boomerang.checks import BoomerangInputError
from . import dlib_faces, face_glue, inputs

NO_FACE_DISTANCE = float("nan")  # FaceIdentityDistance when a photo shows no face


def detector_inputs(upsample_default: int = 1) -> list:
    return [
        io.Combo.Input("detector", options=list(dlib_faces.DETECTORS), default="hog",
                       tooltip="hog: dlib's HOG + linear SVM, fast, frontal faces only, a few false boxes. cnn: "
                               "dlib's CNN (MMOD) detector, accurate and finds turned faces, about 50x slower on a "
                               "CPU."),
        io.Int.Input("upsample", default=upsample_default, min=0, max=4,
                     tooltip="Times the photo is doubled before detection. 0 finds faces of about 80 px and up; "
                             "each step halves the smallest face found and costs about 4x the time."),
    ]


def threshold_input() -> io.Float.Input:
    return io.Float.Input(
        "threshold", default=dlib_faces.SAME_PERSON, min=0.01, max=1.99, step=0.01,
        tooltip="Descriptor distance below which two faces are 'the same person'. 0.6 is the value dlib's ResNet "
                "recognizer was calibrated at on LFW (99.38% accuracy there); lower is stricter about sameness, "
                "so anonymization at a higher threshold is the safer claim. Range (0, 2).")


def _text(value: str) -> ui.PreviewText:
    return ui.PreviewText(value)


class BoomerangFaceDetect(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="BoomerangFaceDetect",
            display_name="Face Detect (dlib)",
            description="Find faces with dlib (HOG or CNN; weights from the face-recognition-models package, "
                        "nothing downloaded). Outputs a MASK of the face crops (box plus margin), the boxes as "
                        "JSON and the count. Needs `pip install dlib-bin face-recognition-models`.",
            search_aliases=["face detect", "dlib", "face mask", "face boxes", "anonymize"],
            inputs=[
                io.Image.Input("image"),
                *detector_inputs(),
                io.Float.Input("margin", default=0.3, min=0.0, max=2.0, step=0.05,
                               tooltip="Extra room around each face, as a fraction of the face's side on every "
                                       "edge (the crop is square). 0 is the bare detector box; 0.3 takes in hair "
                                       "and chin."),
                io.Int.Input("min_size", default=32, min=0, max=8192,
                             tooltip="Faces whose box is smaller than this (pixels, shorter side) are listed as "
                                     "skipped and left out of the mask. 0 keeps every face."),
                io.Int.Input("max_faces", default=16, min=1, max=1000,
                             tooltip="At most this many faces per photo (the highest-scoring ones)."),
            ],
            outputs=[
                io.Mask.Output("mask", display_name="mask", tooltip="1 inside each kept face crop, 0 elsewhere."),
                io.String.Output("boxes", display_name="boxes",
                                 tooltip="JSON: per photo, each face's box [left, top, right, bottom) and crop, "
                                         "score and whether it was kept. AnonymizeFaces reads it."),
                io.Int.Output("count", display_name="count", tooltip="Faces kept, over the whole batch."),
            ],
        )

    @classmethod
    def execute(cls, image, detector, upsample, margin, min_size, max_faces) -> io.NodeOutput:
        F.check_images(image)
        mask, photos = face_glue.detect_batch(dlib_faces.load(), image, detector, upsample, margin, min_size,
                                              max_faces)
        data = {"photos": [{"faces": [{"box": box.as_list(), "crop": crop.as_list(), "score": round(box.score, 4),
                                       "kept": kept} for box, crop, kept in photo]} for photo in photos]}
        count = sum(kept for photo in photos for _, _, kept in photo)
        lines = [f"{count} face(s) kept ({detector}, upsample {upsample})"]
        for p, photo in enumerate(photos):
            if not photo:
                lines.append(f"photo {p}: no face found")
            for box, _, kept in photo:
                state = "" if kept else f" - skipped: smaller than min_size {min_size}"
                lines.append(f"photo {p}: face at {box.as_list()} score {box.score:.2f}{state}")
        text = "\n".join(lines)
        return io.NodeOutput(mask, json.dumps(data), count, ui=_text(text))


def pair_up(a: torch.Tensor, b: torch.Tensor) -> list[tuple[int, int]]:
    """Aligned pairs (i, i), or one reference against a batch."""
    if a.shape[0] == b.shape[0]:
        return [(i, i) for i in range(a.shape[0])]
    if a.shape[0] == 1 or b.shape[0] == 1:
        return [(0 if a.shape[0] == 1 else i, 0 if b.shape[0] == 1 else i) for i in range(max(a.shape[0], b.shape[0]))]
    raise BoomerangInputError("image_b", f"a batch of 1 or {a.shape[0]} images (as many as image_a, or one "
                              "reference)", f"{b.shape[0]} images")


def identity_distances(faces, a, b, detector, upsample) -> list[float | None]:
    cache: dict[tuple[str, int], object] = {}

    def vector(name, images, i):
        if (name, i) not in cache:
            u8 = dlib_faces.to_uint8(images[i])
            found = dlib_faces.nearest(faces.detect(u8, detector, upsample), None)
            cache[(name, i)] = None if found is None else faces.descriptor(
                u8, (found.left, found.top, found.right, found.bottom))
        return cache[(name, i)]

    out = []
    for i, j in pair_up(a, b):
        va, vb = vector("a", a, i), vector("b", b, j)
        out.append(None if va is None or vb is None else dlib_faces.distance(va, vb))
    return out


class FaceIdentityDistance(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="FaceIdentityDistance",
            display_name="Face Identity Distance (dlib)",
            description="Distance between dlib's 128-d face descriptors (ResNet, faces aligned by 5 landmarks) "
                        "of aligned pairs of images, or of one reference against a batch: the paper's anonymity "
                        "measure (section 4.2). Below the threshold: same person. A pair where either image has "
                        "no face is reported as 'no face found' (NaN in the list).",
            search_aliases=["face distance", "identity", "face recognition", "dlib", "anonymity", "same person"],
            inputs=[
                io.Image.Input("image_a", tooltip="Originals (or one reference photo)."),
                io.Image.Input("image_b", tooltip="As many images as image_a, or one (compared with each of image_a)."),
                threshold_input(),
                *detector_inputs(),
            ],
            outputs=[
                io.Float.Output("distances", display_name="distances", is_output_list=True,
                                tooltip="One per pair; NaN where a face was not found in either image."),
                io.String.Output("report", display_name="report", tooltip="One line per pair, in words."),
            ],
        )

    @classmethod
    def validate_inputs(cls, threshold):
        if threshold is not None and not 0.0 < threshold < 2.0:
            return f"threshold must be a number in (0, 2); received {threshold}"
        return True

    @classmethod
    def execute(cls, image_a, image_b, threshold, detector, upsample) -> io.NodeOutput:
        F.check_images(image_a, "image_a")
        F.check_images(image_b, "image_b")
        F.check_threshold(threshold)
        pairs = pair_up(image_a, image_b)
        distances = identity_distances(dlib_faces.load(), image_a, image_b, detector, upsample)
        lines = []
        for (i, j), d in zip(pairs, distances):
            verdict = "no face found" if d is None else (
                f"{d:.3f} - {'same person' if d < threshold else 'different people'} at {threshold:g}")
            lines.append(f"a[{i}] vs b[{j}]: {verdict}")
        text = "\n".join(lines)
        values = [NO_FACE_DISTANCE if d is None else d for d in distances]
        return io.NodeOutput(values, text, ui=_text(text))


class AnonymizeFaces(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="AnonymizeFaces",
            display_name="Anonymize Faces (Boomerang, checked)",
            description="Boomerang each face of each photo (Luzi et al. 2024, section 4.2): crop with a margin, "
                        "resize to the working size, VAE-encode, noise to t_boom and reverse, decode, paste back "
                        "with a feathered mask; pixels outside the crops stay bit-identical. With "
                        "until_unrecognizable, a face is redone at higher t_boom (same seed) while dlib still "
                        "recognizes it. The report lists every face; none is passed silently.",
            search_aliases=["anonymize", "face", "privacy", "deidentify", "boomerang", "face swap"],
            inputs=[
                io.Image.Input("image", tooltip="RGB photos (a batch works)."),
                io.Vae.Input("vae"),
                *inputs.sampling_inputs(),
                *detector_inputs(),
                io.Float.Input("margin", default=0.3, min=0.0, max=2.0, step=0.05,
                               tooltip="Room around each face, a fraction of its side per edge (square crop)."),
                io.Int.Input("min_size", default=32, min=0, max=8192,
                             tooltip="Faces smaller than this (pixels) are skipped, and listed as skipped."),
                io.Int.Input("max_faces", default=16, min=1, max=1000,
                             tooltip="At most this many faces per photo (the highest-scoring ones)."),
                io.Int.Input("working_size", default=512, min=64, max=2048, step=64,
                             tooltip="Each crop is resized so its longer side is this before Boomerang: 512 "
                                     "for SD1.5 (its training size), 1024 for SDXL. Small faces are upscaled."),
                inputs.t_boom(default=500, tooltip_extra=" The paper anonymizes at 0.5-0.8 T."),
                io.Boolean.Input("until_unrecognizable", default=True,
                                 tooltip="On: retry each face at t_boom + step, + 2 steps, ... (same seed) while "
                                         "its identity distance to the original is below the threshold, up to "
                                         "t_boom_max. Off: one pass at t_boom (the distance is still reported)."),
                io.Int.Input("t_boom_step", default=100, min=1, max=checks.MAX_T,
                             tooltip="How much t_boom rises per retry. Small: the least change that works, more "
                                     "passes; large: fewer passes."),
                io.Int.Input("t_boom_max", default=900, min=0, max=checks.MAX_T,
                             tooltip="Highest t_boom tried (at least t_boom). T gives a wholly new face."),
                threshold_input(),
                io.Combo.Input("still_recognizable", options=list(F.POLICIES), default="blur",
                               tooltip="What to paste for a face still recognized after the last try: 'blur' "
                                       "(a coarse 8x8 blur of the original face) or 'keep last sample'. Either "
                                       "way it is listed in the report."),
                io.Float.Input("feather", default=0.15, min=0.0, max=0.5, step=0.01,
                               tooltip="Width of the fade at the crop's edges, a fraction of its side. 0: hard "
                                       "edge; 0.5: fades from the centre."),
                *inputs.pass_settings(),
                inputs.seed(what="noise"),
                io.Int.Input("only_face", default=-1, min=-1, max=100000,
                             tooltip="-1: every face. k: redo face k alone (numbered in the report over the "
                                     "batch; it keeps its seed, seed + k)."),
                io.Mask.Input("mask", optional=True,
                              tooltip="Optional: your own face regions (one face per connected region) instead "
                                      "of the detector."),
                io.String.Input("boxes", optional=True, force_input=True,
                                tooltip="Optional: boxes JSON (from Face Detect, or [[left, top, right, bottom], "
                                        "...]) instead of the detector."),
            ],
            outputs=[
                io.Image.Output(display_name="image"),
                io.Mask.Output("paste_mask", display_name="paste_mask", tooltip="The paste weights (feathered crops)."),
                io.String.Output("report", display_name="report", tooltip="One line per face, in words."),
                io.String.Output("details", display_name="details",
                                 tooltip="JSON: per face box, seed, status, every t_boom tried and its distance."),
            ],
        )

    @classmethod
    def validate_inputs(cls, t_boom, t_boom_max, until_unrecognizable, threshold, sampler, steps):
        problems = [checks.check_fast_path(t_boom, sampler, steps)]
        if threshold is not None and not 0.0 < threshold < 2.0:
            problems.append(f"threshold must be a number in (0, 2); received {threshold}")
        if None not in (t_boom, t_boom_max) and until_unrecognizable and t_boom_max < t_boom:
            problems.append(f"t_boom_max must be an integer in [t_boom = {t_boom}, T]; received {t_boom_max}")
        return checks.first_problem(*problems)

    @classmethod
    def execute(cls, image, vae, model, positive, negative, detector, upsample, margin, min_size, max_faces,
                working_size, t_boom, until_unrecognizable, t_boom_step, t_boom_max, threshold, still_recognizable,
                feather, cfg, sampler, scheduler, steps, seed, only_face, mask=None, boxes=None) -> io.NodeOutput:
        settings = face_glue.Settings(
            detector=detector, upsample=upsample, margin=margin, min_size=min_size, max_faces=max_faces,
            working_size=working_size, t_boom=t_boom, until_unrecognizable=until_unrecognizable,
            t_boom_step=t_boom_step, t_boom_max=t_boom_max, threshold=threshold,
            still_recognizable=still_recognizable, feather=feather, cfg=cfg, sampler=sampler, scheduler=scheduler,
            steps=steps, seed=seed, only_face=only_face)
        out, weights, reports, text = face_glue.anonymize(image, vae, model, positive, negative, settings,
                                                          mask=mask, boxes_json=boxes)
        return io.NodeOutput(out, weights, text, face_glue.details_json(reports), ui=_text(text))
