"""The one recommended fast setting (issue 19 item 4): the nodes' defaults, the README's advice, the shipped
workflows and the headless commands all read it from here, so they cannot drift apart.

The value is the cheapest setting that holds both oracle laws (Gaussian and two-mode mixture) at every t_boom
the frontier bench measures (docs/FRONTIER.md), for discrete (EPS/v) and flow models alike.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FastSetting:
    sampler: str
    scheduler: str
    steps: int


# docs/FRONTIER.md: the pack's boomerang_fast holds both laws at 10 calls at every measured t_boom (0.2, 0.5,
# 0.8 T), EPS and flow (8 calls except flow 0.8 T); the best stock sampler, dpmpp_3m_sde + karras, needs 20 calls
# to hold everywhere (10 for EPS at t_boom <= 0.5 T). boomerang_fast reads only the schedule's first level and
# its count (steps = model calls) and picks its own levels; karras is what the frontier measured it with.
RECOMMENDED = FastSetting(sampler="boomerang_fast", scheduler="karras", steps=10)
