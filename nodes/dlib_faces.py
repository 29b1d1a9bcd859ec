"""The one place that touches dlib: face detection (HOG or CNN), 5-point landmarks, 128-d face descriptors.

The model files come from the PyPI package ``face-recognition-models``; ``dlib-bin`` is a binary dlib wheel.
Both are optional: nothing is imported until a face node runs, and without them ``load()`` raises one
``FaceDependencyError`` saying exactly what to install. Standard library and numpy only (no ComfyUI), so a
test can load this file alone. Loaded models are cached per process.
"""
from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass

import numpy as np

log = logging.getLogger("boomerang")

PACKAGES = "dlib-bin face-recognition-models"
INSTALL = (f"The face nodes need two optional packages that ship dlib and its face models (nothing is downloaded "
           f"at run time). Install them into ComfyUI's Python environment with `pip install {PACKAGES}` (or "
           f"ComfyUI-Manager > Install PIP packages > {PACKAGES}), then restart ComfyUI.")
DETECTORS = ("hog", "cnn")
SAME_PERSON = 0.6  # dlib's ResNet descriptor distance below which two faces are the same person (calibrated on LFW)


class FaceDependencyError(RuntimeError):
    """dlib or face_recognition_models is missing; the message says what to pip install."""


@dataclass(frozen=True)
class Detection:
    left: int
    top: int
    right: int  # exclusive
    bottom: int  # exclusive
    score: float


class DlibFaces:
    """dlib's detectors, landmark predictor and recognizer, loaded once from face_recognition_models' files."""

    def __init__(self, dlib, models):
        self.dlib = dlib
        self.hog = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self.recognizer = dlib.face_recognition_model_v1(models.face_recognition_model_location())
        self._cnn_path = models.cnn_face_detector_model_location()
        self._cnn = None
        self._lock = threading.Lock()

    @property
    def cnn(self):
        if self._cnn is None:
            self._cnn = self.dlib.cnn_face_detection_model_v1(self._cnn_path)
        return self._cnn

    def detect(self, rgb: np.ndarray, detector: str = "hog", upsample: int = 1) -> list[Detection]:
        """Faces in an [H, W, 3] uint8 RGB array, clipped to the image; HOG scores and CNN confidences as given."""
        if detector not in DETECTORS:
            raise ValueError(f"detector must be one of {', '.join(DETECTORS)}; received {detector!r}")
        rgb = np.ascontiguousarray(rgb)
        height, width = rgb.shape[:2]
        with self._lock:  # dlib objects are not documented as thread-safe
            if detector == "hog":
                rects, scores, _ = self.hog.run(rgb, upsample, 0.0)
                found = list(zip(rects, scores))
            else:
                found = [(d.rect, d.confidence) for d in self.cnn(rgb, upsample)]
        out = []
        for rect, score in found:
            left, top = max(0, rect.left()), max(0, rect.top())
            right, bottom = min(width, rect.right() + 1), min(height, rect.bottom() + 1)
            if right > left and bottom > top:
                out.append(Detection(left, top, right, bottom, float(score)))
        return out

    def descriptor(self, rgb: np.ndarray, box) -> np.ndarray:
        """dlib's 128-d descriptor of the face in ``box`` (left, top, right, bottom), aligned by 5 landmarks."""
        rgb = np.ascontiguousarray(rgb)
        rect = self.dlib.rectangle(int(box[0]), int(box[1]), int(box[2]) - 1, int(box[3]) - 1)
        with self._lock:
            shape = self.landmarks(rgb, rect)
            return np.asarray(self.recognizer.compute_face_descriptor(rgb, shape), dtype=np.float64)


_CACHE: dict[str, DlibFaces] = {}
_LOAD_LOCK = threading.Lock()


def load(importer=importlib.import_module) -> DlibFaces:
    """The cached DlibFaces; ``importer`` is injectable so the missing-dependency message can be tested."""
    with _LOAD_LOCK:
        if importer is importlib.import_module and "models" in _CACHE:
            return _CACHE["models"]
        try:
            dlib = importer("dlib")
            models = importer("face_recognition_models")
        except ImportError as e:
            raise FaceDependencyError(f"{INSTALL} (import failed: {e})") from None
        try:
            faces = DlibFaces(dlib, models)
        except RuntimeError as e:  # a model file missing or unreadable
            raise FaceDependencyError(f"{INSTALL} (loading dlib's model files failed: {e})") from None
        if importer is importlib.import_module:
            _CACHE["models"] = faces
        log.info("dlib %s loaded with the face_recognition_models files", getattr(dlib, "__version__", "?"))
        return faces


def to_uint8(image) -> np.ndarray:
    """A [H, W, 3] float image in [0, 1] (tensor or array) as the uint8 RGB array dlib expects."""
    array = image.detach().cpu().float().numpy() if hasattr(image, "detach") else np.asarray(image, dtype=np.float32)
    return np.ascontiguousarray(np.clip(np.round(array * 255.0), 0, 255).astype(np.uint8))


def nearest(detections: list[Detection], center: tuple[float, float] | None) -> Detection | None:
    """The detection whose centre is closest to ``center`` (the highest score when ``center`` is None)."""
    if not detections:
        return None
    if center is None:
        return max(detections, key=lambda d: d.score)
    return min(detections, key=lambda d: ((d.left + d.right) / 2 - center[0]) ** 2
               + ((d.top + d.bottom) / 2 - center[1]) ** 2)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
