"""Boomerang local sampling (Luzi et al., TMLR 2024) as plain torch functions.

This package never imports ComfyUI: the node glue in ``nodes/`` hands it the model's own noise levels and
forward-process coefficients, so everything here can be read and tested alone.
"""
from .checks import BoomerangInputError
from .imaging import match_channel_stats, pad_to_multiple, resize_image, target_size
from .noise import PerItemNoiseSampler, item_seeds, per_item_normal, stream_seed
from .sampler import posterior_mean_std, sample_boomerang_exact
from .schedule import auto_t_boom, describe_level, integer_grid, parse_pass_schedule

__all__ = [
    "BoomerangInputError",
    "item_seeds",
    "per_item_normal",
    "PerItemNoiseSampler",
    "stream_seed",
    "posterior_mean_std",
    "sample_boomerang_exact",
    "auto_t_boom",
    "describe_level",
    "integer_grid",
    "parse_pass_schedule",
    "match_channel_stats",
    "resize_image",
    "target_size",
    "pad_to_multiple",
]
