"""The one module for input checks (pure; no ComfyUI): the error type, the bounds the inputs share, and the
range checks. ``validate_inputs`` helpers return True or a message (ComfyUI shows it before anything runs;
inputs fed by links are None there and checked when the node runs); the others raise BoomerangInputError,
which always names the input, its allowed range and the value received."""
from __future__ import annotations

MAX_T = 10000  # the schema bound of t_boom and steps; the model's own T (1000 for SD) is checked when it runs
MAX_SEED = (1 << 64) - 1  # seed widgets (ComfyUI's range); batch item i uses seed + i mod 2**64
MAX_ITEM_SEED = (1 << 63) - 1  # one seed per item (BoomerangItemSeeds, dataset jobs): a signed 64-bit int
EXACT = "boomerang_exact"  # the sampler name of Algorithm 1
FAST = "boomerang_fast"  # the pack's 10-call sampler (boomerang/fast_sampler.py)
MIN_TILE, MAX_TILE = 64, 8192  # denoiser tile side, pixels
MAX_TILE_BATCH = 64


class BoomerangInputError(ValueError):
    """A user-facing input error: ``input_name``, ``allowed`` and ``received`` are part of the message."""

    def __init__(self, input_name: str, allowed: str, received, hint: str = ""):
        self.input_name = input_name
        self.allowed = allowed
        self.received = received
        message = f"{input_name} must be {allowed}; received {received!r}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


def check_int_range(name: str, value: int, low: int, high: int, hint: str = "") -> int:
    """Return ``value`` if ``low <= value <= high``, else raise a BoomerangInputError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not (low <= value <= high):
        raise BoomerangInputError(name, f"an integer in [{low}, {high}]", value, hint)
    return value


def check_value(name: str, value, low, high, kind: str = "an integer"):
    """Return ``value`` if it is ``kind`` ("an integer" or "a number") in [low, high], else raise."""
    bad_type = isinstance(value, bool) or not isinstance(value, (int, float) if kind == "a number" else int)
    if bad_type or not low <= value <= high:
        fmt = (lambda v: f"{v:g}") if kind == "a number" else str
        raise BoomerangInputError(name, f"{kind} in [{fmt(low)}, {fmt(high)}]", value)
    return value


# ---------------------------------------------------------------- validate_inputs helpers (True or a message)

def check_range(name: str, value, low, high, kind: str = "an integer") -> bool | str:
    """One number; None (a linked input) is checked when the node runs."""
    if value is not None and not low <= value <= high:
        return f"{name} must be {kind} in [{low:g}, {high:g}]; received {value}"
    return True


def first_problem(*checks) -> bool | str:
    """The first message among ``checks`` results, or True when all passed."""
    return next((c for c in checks if c is not True), True)


def check_fast_path(t_boom_value, sampler_name, steps_value) -> bool | str:
    """Ranges of t_boom and steps (ComfyUI skips its own min/max for inputs a validate_inputs takes) and at
    most t_boom steps on the fast path."""
    if t_boom_value is not None and not 0 <= t_boom_value <= MAX_T:
        return f"t_boom must be an integer in [0, {MAX_T}] (and at most the model's T); received {t_boom_value}"
    steps_range = check_range("steps", steps_value, 1, MAX_T)
    if steps_range is not True:
        return steps_range
    if None in (t_boom_value, sampler_name, steps_value):
        return True
    if sampler_name != EXACT and t_boom_value > 0 and steps_value > t_boom_value:
        return (f"steps must be an integer in [1, t_boom = {t_boom_value}] on the fast path ({sampler_name}); "
                f"received {steps_value}")
    return True


# ---------------------------------------------------------------- the tiled denoiser's inputs

def _overlap_allowed(names, tile_size) -> str:
    return f"an integer in [0, {names[0]} / 2) = [0, {tile_size / 2:g}) pixels"


def validate_tiling(tile_size, overlap, tile_batch, names) -> bool | str:
    """validate_inputs message for (tile side, overlap, tiles per call) named ``names``."""
    for name, value, low, high in ((names[0], tile_size, MIN_TILE, MAX_TILE),
                                   (names[2], tile_batch, 1, MAX_TILE_BATCH)):
        if value is not None and not low <= value <= high:
            return f"{name} must be an integer in [{low}, {high}]; received {value}"
    if tile_size is not None and overlap is not None and not 0 <= overlap < tile_size / 2:
        return f"{names[1]} must be {_overlap_allowed(names, tile_size)}; received {overlap}"
    return True


def check_tiling(tile_size: int, overlap: int, tile_batch: int, names) -> None:
    """BoomerangInputError for a tile outside [64, 8192] px, an overlap of half a tile or more, tile_batch < 1."""
    check_int_range(names[0], tile_size, MIN_TILE, MAX_TILE, "Tile sides are in pixels")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < tile_size / 2:
        raise BoomerangInputError(names[1], _overlap_allowed(names, tile_size), overlap,
                                  "Neighbouring tiles share this many pixels; half a tile or more would "
                                  "evaluate positions three or more times")
    check_int_range(names[2], tile_batch, 1, MAX_TILE_BATCH)


def check_tile_patch(name: str, tile_size: int, ratio: int, patch: int, family: str) -> None:
    """BoomerangInputError when a tile of ``tile_size`` pixels is smaller, in latent samples (``ratio`` pixels
    each, the VAE's), than one patch of the model's network (``patch`` samples): such a tile is all padding."""
    if tile_size // ratio < patch:
        raise BoomerangInputError(
            name, f"at least {patch * ratio} pixels for this {family} model (its network cuts the latent into "
            f"patches of {patch} samples; this VAE makes one sample of {ratio} pixels)", tile_size,
            "Raise the tile size, or check that the VAE is this model's")


def check_vae_scales(encode_ratio: int, decode_ratio: int, family: str) -> None:
    """BoomerangInputError when a VAE decodes at another scale than it encodes (Stable Cascade's stage C coder: an
    EfficientNet encoder at 1/32 and a x8 preview decoder): its images cannot come back at the size asked for."""
    if encode_ratio != decode_ratio:
        raise BoomerangInputError(
            "vae", "a VAE that decodes at the scale it encodes (pixels per latent sample)",
            f"a VAE that encodes x{encode_ratio} and decodes x{decode_ratio}, with a {family} model",
            "Stable Cascade's stage C coder decodes only a preview: run Boomerang on the stage C latent, then "
            "stage B and the stage A VAE")


MAX_WINDOW = 4096  # temporal window, latent frames


def validate_time_window(window, overlap) -> bool | str:
    """validate_inputs message for the temporal window and its overlap (latent frames; window 0 = off)."""
    if window is not None and not 0 <= window <= MAX_WINDOW:
        return f"temporal_window must be an integer in [0, {MAX_WINDOW}] latent frames (0: off); received {window}"
    if window and overlap is not None and not 0 <= overlap < window / 2:
        return f"temporal_overlap must be an integer in [0, temporal_window / 2) = [0, {window / 2:g}); received " \
               f"{overlap}"
    return True


def check_time_window(window: int, overlap: int) -> None:
    """BoomerangInputError for a window outside [0, MAX_WINDOW] or an overlap of half a window or more."""
    check_int_range("temporal_window", window, 0, MAX_WINDOW, "Latent frames per model call; 0 turns windows off")
    if window and (isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < window / 2):
        raise BoomerangInputError("temporal_overlap", f"an integer in [0, temporal_window / 2) = [0, {window / 2:g})",
                                  overlap, "Neighbouring windows share this many latent frames")


def check_clip_for_window(shape: tuple, window: int) -> None:
    """A latent (shape) that temporal windows of ``window`` latent frames can cover: a 5-D clip
    [batch, channels, frames, height, width] with at least ``window`` frames."""
    if len(shape) != 5:
        raise BoomerangInputError(
            "temporal_window", "0 (off) for a latent without a time axis (windows need [batch, channels, frames, "
            "height, width])", window, f"The latent has shape {tuple(shape)}; set temporal_window to 0")
    if shape[2] < window:
        raise BoomerangInputError(
            "temporal_window", f"0 (off) or an integer in [1, {shape[2]}] (the clip's latent frames)", window,
            f"The clip is shorter than one window ({shape[2]} latent frames); set temporal_window to 0 or at most "
            f"{shape[2]}")


class NonFiniteError(RuntimeError):
    """A model or VAE returned NaN or infinite values: names the stage, the dtype it ran in and the usual fix."""

    def __init__(self, stage: str, dtype, bad: int, total: int, fix: str):
        self.stage, self.dtype = stage, str(dtype)
        super().__init__(f"{stage} returned non-finite values ({bad} of {total} NaN or infinite) running in "
                         f"{dtype}; {fix}")


def check_finite(x, stage: str, dtype, fix: str):
    """Return the tensor ``x`` when every value is finite, else raise NonFiniteError (never pass garbage on)."""
    import torch

    finite = torch.isfinite(x)
    if not bool(finite.all()):
        raise NonFiniteError(stage, dtype, int(finite.numel() - finite.sum()), int(finite.numel()), fix)
    return x
