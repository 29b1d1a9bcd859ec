"""Face anonymization, the pure parts: boxes, margins, crops, feathered pasting, the retry loop, the report.

No ComfyUI and no dlib here. Images are ComfyUI IMAGE tensors [B, H, W, C] in [0, 1]; boxes are pixel
rectangles with exclusive right/bottom edges. The identity check (paper section 4.2: face-recognition
embedding distances, "declared different people" above a threshold) enters as a ``distance`` callable, so the
loop is testable with any recognizer.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Callable

import torch
import torch.nn.functional as F

from .checks import BoomerangInputError, NonFiniteError

POLICIES = ("keep last sample", "blur")
ANONYMIZED, NO_FACE, RECOGNIZABLE, SKIPPED = ("anonymized", "no face found in output", "still recognizable",
                                              "skipped: smaller than min_size")


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int
    score: float = float("nan")

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def center(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]


def check_images(images, input_name: str = "image") -> torch.Tensor:
    """A non-empty batch of RGB images [B, H, W, 3]; greyscale and alpha images are refused by name."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise BoomerangInputError(input_name, "a batch of images [B, H, W, 3]", shape)
    if images.shape[0] == 0:
        raise BoomerangInputError(input_name, "a batch of at least 1 image", "an empty batch (0 items)")
    if images.shape[-1] != 3:
        kind = {1: "greyscale", 2: "greyscale + alpha", 4: "RGBA (alpha)"}.get(int(images.shape[-1]), "")
        raise BoomerangInputError(input_name, "RGB images (3 channels)", f"{images.shape[-1]} channels {kind}".strip(),
                                  "Convert the image to RGB first (e.g. drop the alpha channel)")
    return images


def check_mask(mask, images: torch.Tensor, input_name: str = "mask") -> torch.Tensor:
    """A MASK [B or 1, H, W] of the images' size, returned as [B, H, W]."""
    if mask.ndim == 2:
        mask = mask[None]
    batch, height, width = images.shape[0], images.shape[1], images.shape[2]
    if mask.ndim != 3 or tuple(mask.shape[1:]) != (height, width) or mask.shape[0] not in (1, batch):
        raise BoomerangInputError(input_name, f"a mask of the image's size: [1 or {batch}, {height}, {width}]",
                                  f"shape {tuple(mask.shape)}")
    return mask.expand(batch, height, width)


def check_threshold(value: float, input_name: str = "threshold") -> float:
    if not (isinstance(value, (int, float)) and 0.0 < value < 2.0):
        raise BoomerangInputError(input_name, "a number in (0, 2) (128-d unit descriptors are at most 2 apart; "
                                  "0.6 is the recognizer's calibrated value)", value)
    return float(value)


def check_t_boom_range(t_boom: int, t_boom_max: int, until: bool) -> None:
    if until and t_boom_max < t_boom:
        raise BoomerangInputError("t_boom_max", f"an integer in [t_boom = {t_boom}, T]", t_boom_max,
                                  "The retry loop raises t_boom up to t_boom_max")


def parse_boxes(text: str, sizes: list[tuple[int, int]], input_name: str = "boxes") -> list[list[Box]]:
    """Boxes per photo from JSON: ``[[l, t, r, b], ...]`` for every photo, or ``[[[l, t, r, b], ...], ...]``
    one list per photo (dicts with left/top/right/bottom, as BoomerangFaceDetect writes, also work)."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        raise BoomerangInputError(input_name, "JSON boxes [[left, top, right, bottom], ...]", text) from None
    if isinstance(data, dict) and "photos" in data:
        data = [[face["box"] for face in photo["faces"]] for photo in data["photos"]]
    if not isinstance(data, list):
        raise BoomerangInputError(input_name, "a JSON list of boxes", text)
    def is_box(item) -> bool:
        return isinstance(item, dict) or (isinstance(item, list) and len(item) == 4
                                          and all(isinstance(v, (int, float)) for v in item))

    per_photo = [data] * len(sizes) if all(is_box(item) for item in data) else data
    if len(per_photo) != len(sizes):
        raise BoomerangInputError(input_name, f"one list of boxes per photo ({len(sizes)} photos)",
                                  f"{len(per_photo)} lists")
    out = []
    for (width, height), boxes in zip(sizes, per_photo):
        if not isinstance(boxes, list):
            raise BoomerangInputError(input_name, "one list of [left, top, right, bottom] boxes per photo", boxes)
        photo = []
        for raw in boxes:
            if isinstance(raw, dict):
                raw = [raw.get(k) for k in ("left", "top", "right", "bottom")]
            ok = isinstance(raw, list) and len(raw) == 4 and all(isinstance(v, (int, float)) for v in raw)
            if not ok or not (0 <= raw[0] < raw[2] <= width and 0 <= raw[1] < raw[3] <= height):
                raise BoomerangInputError(
                    input_name, f"boxes inside the {width}x{height} image: [left, top, right, bottom] with "
                    f"0 <= left < right <= {width} and 0 <= top < bottom <= {height}", raw)
            photo.append(Box(*(int(round(v)) for v in raw)))
        out.append(photo)
    return out


def boxes_from_mask(mask: torch.Tensor) -> list[Box]:
    """One box per connected region (8-neighbourhood) of mask > 0.5, in reading order."""
    from scipy import ndimage

    labels, count = ndimage.label((mask > 0.5).cpu().numpy(), structure=[[1, 1, 1]] * 3)
    boxes = [Box(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in ndimage.find_objects(labels)]
    return order(boxes)


def order(boxes: list[Box]) -> list[Box]:
    """Faces in reading order (by top, then left), so face numbers do not depend on detector scores."""
    return sorted(boxes, key=lambda b: (b.top, b.left))


def clip(box: Box, width: int, height: int) -> Box:
    return replace(box, left=max(0, min(box.left, width)), top=max(0, min(box.top, height)),
                   right=max(0, min(box.right, width)), bottom=max(0, min(box.bottom, height)))


def crop_box(box: Box, margin: float, width: int, height: int) -> Box:
    """The square around ``box`` grown by ``margin`` x its longer side on every edge, clipped to the image."""
    side = max(box.width, box.height) * (1.0 + 2.0 * margin)
    cx, cy = box.center
    left, top = int(math.floor(cx - side / 2)), int(math.floor(cy - side / 2))
    right, bottom = int(math.ceil(cx + side / 2)), int(math.ceil(cy + side / 2))
    return clip(Box(left, top, right, bottom, box.score), width, height)


def working_dims(width: int, height: int, working_size: int, multiple: int) -> tuple[int, int]:
    """(w, h) with the longer side ``working_size``, the aspect kept, both multiples of ``multiple``."""
    scale = working_size / max(width, height)
    return (max(multiple, int(round(width * scale / multiple)) * multiple),
            max(multiple, int(round(height * scale / multiple)) * multiple))


def resize(images: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Bicubic resize of [B, H, W, C] images (area when shrinking a lot), clamped to [0, 1]."""
    if (images.shape[2], images.shape[1]) == (width, height):
        return images.clone()
    x = images.movedim(-1, 1).float()
    if width < images.shape[2] / 2 and height < images.shape[1] / 2:
        x = F.interpolate(x, size=(height, width), mode="area")
    else:
        x = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False)
    return x.movedim(1, -1).clamp(0.0, 1.0).to(images.dtype)


def _ramp(n: int, r: float) -> torch.Tensor:
    if r <= 0:
        return torch.ones(n)
    i = torch.arange(n, dtype=torch.float32)
    x = torch.clamp(torch.minimum(i + 0.5, n - i - 0.5) / r, 0.0, 1.0)
    return x * x * (3 - 2 * x)  # smoothstep: no visible edge where the fade starts


def feather_window(height: int, width: int, feather: float) -> torch.Tensor:
    """[H, W] paste weights: 1 in the middle, fading to (nearly) 0 over ``feather`` x the shorter side at the edges."""
    r = feather * min(height, width)
    return _ramp(height, r)[:, None] * _ramp(width, r)[None, :]


def soften(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """A [H, W] mask blurred by a box filter of ``radius`` pixels (a feathered user mask)."""
    m = (mask > 0.5).float()[None, None]
    if radius > 0:
        m = F.pad(m, (radius,) * 4)  # separable box filter: two 1-D passes
        m = F.avg_pool2d(F.avg_pool2d(m, (2 * radius + 1, 1), stride=1), (1, 2 * radius + 1), stride=1)
    return m[0, 0]


def paste(image: torch.Tensor, patch: torch.Tensor, crop: Box, weight: torch.Tensor) -> torch.Tensor:
    """[H, W, C] image with ``patch`` blended into ``crop`` by ``weight``; where weight is 0 the input is kept
    bit for bit (a copy: the input is never modified)."""
    out = image.clone()
    region = out[crop.top:crop.bottom, crop.left:crop.right]
    w = weight.to(region.dtype)[..., None]
    blended = region * (1 - w) + patch.to(region.dtype) * w
    out[crop.top:crop.bottom, crop.left:crop.right] = torch.where(w > 0, blended, region)
    return out


def blur(patch: torch.Tensor, cells: int = 8) -> torch.Tensor:
    """A [h, w, C] patch reduced to about ``cells`` x ``cells`` averages and smoothly enlarged back: no identity
    left."""
    h, w = patch.shape[0], patch.shape[1]
    x = patch.movedim(-1, 0)[None].float()
    small = F.adaptive_avg_pool2d(x, (max(1, min(cells, h)), max(1, min(cells, w))))
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)[0].movedim(0, -1).to(patch.dtype)


def t_boom_steps(t_boom: int, step: int, t_boom_max: int, until: bool) -> list[int]:
    """The t_booms the loop may try: t_boom, t_boom + step, ... capped at t_boom_max (only t_boom without retries)."""
    if not until:
        return [t_boom]
    levels = [t_boom]
    while levels[-1] < t_boom_max:
        levels.append(min(levels[-1] + max(step, 1), t_boom_max))
    return levels


@dataclass
class Attempt:
    t_boom: int
    distance: float | None  # None: no face found in the output


@dataclass
class FaceReport:
    photo: int
    face: int
    box: Box
    seed: int
    status: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    action: str = ""

    @property
    def t_boom(self) -> int | None:
        return self.attempts[-1].t_boom if self.attempts else None

    @property
    def distance(self) -> float | None:
        return self.attempts[-1].distance if self.attempts else None

    def line(self, threshold: float) -> str:
        where = f"photo {self.photo} face {self.face} at {self.box.as_list()}"
        if self.status == SKIPPED:
            return f"{where}: {self.status} ({min(self.box.width, self.box.height)} px)"
        tries = f"{len(self.attempts)} tr{'y' if len(self.attempts) == 1 else 'ies'}"
        d = "no face found in output" if self.distance is None else f"distance {self.distance:.3f}"
        verdict = {ANONYMIZED: f"anonymized (>= {threshold:g})", NO_FACE: "anonymized (no face found in output)",
                   RECOGNIZABLE: f"STILL RECOGNIZABLE (< {threshold:g}): {self.action}"}.get(self.status, self.status)
        return f"{where}, seed {self.seed}: t_boom {self.t_boom} ({tries}), {d} - {verdict}"

    def as_dict(self) -> dict:
        return {"photo": self.photo, "face": self.face, "box": self.box.as_list(), "seed": self.seed,
                "status": self.status, "t_boom": self.t_boom, "distance": self.distance, "action": self.action,
                "attempts": [[a.t_boom, a.distance] for a in self.attempts]}


def until_unrecognizable(generate: Callable[[int], object], distance: Callable[[object], float | None],
                         levels: list[int], threshold: float) -> tuple[object, list[Attempt], str]:
    """Run ``generate(t_boom)`` at each level in turn until ``distance(sample)`` is >= ``threshold`` or None (no
    face found in the output); returns the last sample, every attempt and the status."""
    attempts, sample = [], None
    for t in levels:
        sample = generate(t)
        if isinstance(sample, torch.Tensor) and not bool(torch.isfinite(sample).all()):
            # a NaN face has no face in it: it must never count as anonymized
            raise NonFiniteError(f"the face sample at t_boom {t}", sample.dtype, int((~torch.isfinite(sample)).sum()),
                                 sample.numel(), "see the model's and the VAE's dtype (float32 fixes most cases)")
        d = distance(sample)
        attempts.append(Attempt(t, d))
        if d is None:
            return sample, attempts, NO_FACE
        if d >= threshold:
            return sample, attempts, ANONYMIZED
    return sample, attempts, RECOGNIZABLE


def report_text(reports: list[FaceReport], photos: int, threshold: float, no_face_photos: list[int]) -> str:
    done = [r for r in reports if r.status in (ANONYMIZED, NO_FACE)]
    still = [r for r in reports if r.status == RECOGNIZABLE]
    skipped = [r for r in reports if r.status == SKIPPED]
    lines = [f"{photos} photo(s), {len(reports)} face(s): {len(done)} anonymized, {len(still)} still recognizable, "
             f"{len(skipped)} skipped (threshold {threshold:g})"]
    lines += [f"photo {p}: no face found - returned unchanged" for p in no_face_photos]
    lines += [r.line(threshold) for r in reports]
    return "\n".join(lines)
