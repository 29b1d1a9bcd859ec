"""Reproducible noise: one CPU ``torch.Generator`` per batch item, never the global RNG.

Item ``i`` of a batch draws from the seed ``seed + index_i`` (``index_i`` is the latent's ``batch_index``
entry when it has one, else ``i``), so the same item gets the same noise whatever the batch size, and a
batch item can be re-run alone with seed ``seed + i``. Independent streams (the forward noise of
BoomerangNoise, the ancestral noise of the sampler, each cascade pass) are separated by mixing a stream
number into the seed with SplitMix64, so equal user seeds never give correlated draws.
"""
from __future__ import annotations

from typing import Sequence

import torch

_MASK64 = (1 << 64) - 1

STREAM_FORWARD = 0x0B00
STREAM_ANCESTRAL = 0x0B01


def pass_stream(stream: int, pass_index: int) -> int:
    """The stream of cascade pass ``pass_index`` (pass 0 is the single-pass stream itself)."""
    return stream + (int(pass_index) << 16)


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def stream_seed(seed: int, stream: int) -> int:
    """A 63-bit generator seed for ``(seed, stream)``; distinct streams give unrelated sequences."""
    return _splitmix64((int(seed) & _MASK64) ^ _splitmix64(int(stream) & _MASK64)) >> 1


def item_seeds(seed: int, batch_size: int, batch_index: Sequence[int] | None = None) -> list[int]:
    """The per-item user seeds ``seed + index`` (mod 2**64) of a batch."""
    if batch_index is not None:
        if len(batch_index) != batch_size:
            raise ValueError(f"batch_index has {len(batch_index)} entries for a batch of {batch_size}")
        indices = [int(i) for i in batch_index]
    else:
        indices = list(range(batch_size))
    return [(int(seed) + i) & _MASK64 for i in indices]


def _generators(seeds: Sequence[int], stream: int) -> list[torch.Generator]:
    gens = []
    for s in seeds:
        g = torch.Generator(device="cpu")
        g.manual_seed(stream_seed(s, stream))
        gens.append(g)
    return gens


def per_item_normal(shape, seeds: Sequence[int], stream: int, dtype=torch.float32, device="cpu") -> torch.Tensor:
    """Standard normal noise of ``shape`` (batch first) with item ``i`` drawn from ``seeds[i]`` alone."""
    if shape[0] != len(seeds):
        raise ValueError(f"{len(seeds)} seeds for a batch of {shape[0]}")
    gens = _generators(seeds, stream)
    items = [torch.randn(tuple(shape[1:]), generator=g, dtype=torch.float32) for g in gens]
    return torch.stack(items).to(device=device, dtype=dtype)


class PerItemNoiseSampler:
    """A k-diffusion ``noise_sampler(sigma, sigma_next)`` whose draws for item ``i`` depend on its seed only."""

    def __init__(self, x: torch.Tensor, seeds: Sequence[int], stream: int = STREAM_ANCESTRAL):
        if x.shape[0] != len(seeds):
            raise ValueError(f"{len(seeds)} seeds for a batch of {x.shape[0]}")
        self.item_shape = tuple(x.shape[1:])
        self.dtype = x.dtype
        self.device = x.device
        self.generators = _generators(seeds, stream)

    def __call__(self, sigma=None, sigma_next=None) -> torch.Tensor:
        items = [torch.randn(self.item_shape, generator=g, dtype=torch.float32) for g in self.generators]
        return torch.stack(items).to(device=self.device, dtype=self.dtype)
