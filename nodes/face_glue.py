"""Face anonymization on a batch of photos: find faces, Boomerang each face crop, check its identity, paste back.

Glue between the pure parts (``boomerang/faces.py``), dlib (``dlib_faces.py``) and the Boomerang passes
(``comfy/sampling.py``: ``boomerang``). Face k of a batch (numbered in reading order over the photos,
skipped faces included) uses seed + k, so re-running with ``only_face = k`` redoes that face alone.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import torch

from ..boomerang import faces as F
from ..boomerang.advice import RECOMMENDED
from ..boomerang.checks import BoomerangInputError, check_int_range
from . import dlib_faces
from .comfy import sampling, vae_io

log = logging.getLogger("boomerang")


@dataclass
class Settings:
    detector: str = "hog"
    upsample: int = 1
    margin: float = 0.3
    min_size: int = 32
    max_faces: int = 16
    working_size: int = 512
    t_boom: int = 500
    until_unrecognizable: bool = True
    t_boom_step: int = 100
    t_boom_max: int = 900
    threshold: float = dlib_faces.SAME_PERSON
    still_recognizable: str = "blur"
    feather: float = 0.15
    cfg: float = 7.5
    sampler: str = RECOMMENDED.sampler
    scheduler: str = RECOMMENDED.scheduler
    steps: int = RECOMMENDED.steps
    seed: int = 0
    only_face: int = -1

    def check(self) -> None:
        F.check_threshold(self.threshold)
        F.check_t_boom_range(self.t_boom, self.t_boom_max, self.until_unrecognizable)
        if self.still_recognizable not in F.POLICIES:
            raise BoomerangInputError("still_recognizable", f"one of {', '.join(F.POLICIES)}", self.still_recognizable)
        if self.detector not in dlib_faces.DETECTORS:
            raise BoomerangInputError("detector", f"one of {', '.join(dlib_faces.DETECTORS)}", self.detector)
        if not 0.0 <= self.margin <= 2.0:
            raise BoomerangInputError("margin", "a number in [0, 2] (fraction of the face's side)", self.margin)
        if not 0.0 <= self.feather <= 0.5:
            raise BoomerangInputError("feather", "a number in [0, 0.5] (fraction of the crop's side)", self.feather)
        check_int_range("working_size", self.working_size, 64, 2048)
        check_int_range("t_boom_step", self.t_boom_step, 1, 10000)


def find_faces(faces, image: torch.Tensor, detector: str, upsample: int, max_faces: int) -> list[F.Box]:
    """Detected faces of one [H, W, 3] photo: the ``max_faces`` highest-scoring, in reading order."""
    found = faces.detect(dlib_faces.to_uint8(image), detector, upsample)
    found = sorted(found, key=lambda d: -d.score)[:max_faces]
    return F.order([F.Box(d.left, d.top, d.right, d.bottom, d.score) for d in found])


def detect_batch(faces, images, detector, upsample, margin, min_size, max_faces):
    """BoomerangFaceDetect: (mask [B, H, W], per-photo list of (box, crop, kept))."""
    F.check_images(images)
    batch, height, width = images.shape[:3]
    mask = torch.zeros(batch, height, width)
    result = []
    for b in range(batch):
        photo = []
        for box in find_faces(faces, images[b], detector, upsample, max_faces):
            crop = F.crop_box(box, margin, width, height)
            kept = min(box.width, box.height) >= min_size
            if kept:
                mask[b, crop.top:crop.bottom, crop.left:crop.right] = 1.0
            photo.append((box, crop, kept))
        result.append(photo)
    return mask, result


class FaceIdentity:
    """Descriptor of the face near an expected place in a crop, and distances of samples to it."""

    def __init__(self, faces, detector: str, upsample: int):
        self.faces, self.detector, self.upsample = faces, detector, upsample

    def describe(self, image: torch.Tensor, expected: F.Box | None, fallback: bool):
        u8 = dlib_faces.to_uint8(image)
        found = dlib_faces.nearest(self.faces.detect(u8, self.detector, self.upsample),
                                   expected.center if expected else None)
        if found is None and not fallback:
            return None
        rect = (found.left, found.top, found.right, found.bottom) if found else expected.as_list()
        return self.faces.descriptor(u8, rect)


def _encode(vae, pixels):
    return vae_io.vae_encode(vae, pixels[..., :3])


def _decode(vae, samples, width, height):
    return vae_io.vae_decode(vae, samples)[:, :height, :width, :3].float().clamp(0.0, 1.0)


def _face_boxes(images, mask, boxes_json, faces, s: Settings) -> list[list[F.Box]]:
    sizes = [(images.shape[2], images.shape[1])] * images.shape[0]
    if boxes_json is not None and boxes_json.strip():
        return [F.order(p) for p in F.parse_boxes(boxes_json, sizes)]
    if mask is not None:
        return [F.boxes_from_mask(m) for m in F.check_mask(mask, images)]
    return [find_faces(faces, images[b], s.detector, s.upsample, s.max_faces) for b in range(images.shape[0])]


@torch.no_grad()
def anonymize(images, vae, model, positive, negative, s: Settings, mask=None, boxes_json=None, faces=None):
    """AnonymizeFaces (Boomerang per face, paper section 4.2): (images, paste masks [B, H, W], reports, text)."""
    F.check_images(images)
    s.check()
    faces = faces or dlib_faces.load()
    identity = FaceIdentity(faces, s.detector, s.upsample)
    ratio = sampling.image_multiple(model, vae)  # working crops are sized to what the VAE and the network take
    batch, height, width = images.shape[:3]
    out = images.clone()
    weights = torch.zeros(batch, height, width)
    reports, no_face_photos, k = [], [], 0
    for b, boxes in enumerate(_face_boxes(images, mask, boxes_json, faces, s)):
        if not boxes:
            no_face_photos.append(b)
        user_mask = F.check_mask(mask, images)[b] if mask is not None else None
        for box in boxes:
            report = F.FaceReport(photo=b, face=k, box=box, seed=s.seed + k)
            k += 1
            if min(box.width, box.height) < s.min_size:
                report.status = F.SKIPPED
                reports.append(report)
                continue
            if s.only_face >= 0 and report.face != s.only_face:
                report.status = f"not selected (only_face = {s.only_face})"
                reports.append(report)
                continue
            crop = F.crop_box(box, s.margin, width, height)
            cw, ch = crop.width, crop.height
            ww, wh = F.working_dims(cw, ch, s.working_size, ratio)
            work = F.resize(images[b:b + 1, crop.top:crop.bottom, crop.left:crop.right].float(), ww, wh)
            sx, sy = ww / cw, wh / ch
            expected = F.Box(int((box.left - crop.left) * sx), int((box.top - crop.top) * sy),
                             int(round((box.right - crop.left) * sx)), int(round((box.bottom - crop.top) * sy)))
            reference = identity.describe(work[0], expected, fallback=True)
            latent = {"samples": _encode(vae, work)}

            def generate(t, seed=report.seed, latent=latent, ww=ww, wh=wh):
                result, level = sampling.boomerang(model, positive, negative, latent, t, s.cfg, s.sampler,
                                                   s.scheduler, s.steps, seed)
                log.info("AnonymizeFaces: photo %d face %d, %s", b, report.face, level.describe())
                return _decode(vae, result["samples"], ww, wh)

            def distance(sample, expected=expected, reference=reference):
                vector = identity.describe(sample[0], expected, fallback=False)
                return None if vector is None else dlib_faces.distance(vector, reference)

            levels = F.t_boom_steps(s.t_boom, s.t_boom_step, s.t_boom_max, s.until_unrecognizable)
            sample, report.attempts, report.status = F.until_unrecognizable(generate, distance, levels, s.threshold)
            patch = F.resize(sample, cw, ch)[0]
            if report.status == F.RECOGNIZABLE:
                if s.still_recognizable == "blur":
                    patch = F.blur(images[b, crop.top:crop.bottom, crop.left:crop.right].float())
                    report.action = "blurred"
                else:
                    report.action = "kept the last sample"
            weight = F.feather_window(ch, cw, s.feather)
            if user_mask is not None:  # the user's region, feathered outwards, within the crop
                radius = int(s.feather * min(cw, ch) / 2)
                weight = weight * F.soften(user_mask[crop.top:crop.bottom, crop.left:crop.right], radius)
            out[b] = F.paste(out[b], patch, crop, weight)
            region = weights[b, crop.top:crop.bottom, crop.left:crop.right]
            weights[b, crop.top:crop.bottom, crop.left:crop.right] = torch.maximum(region, weight)
            reports.append(report)
    text = F.report_text(reports, batch, s.threshold, no_face_photos)
    for line in text.splitlines():
        log.info("AnonymizeFaces: %s", line)
    return out, weights, reports, text


def details_json(reports) -> str:
    return json.dumps({"faces": [r.as_dict() for r in reports]})
