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


# dpmpp_3m_sde + karras, 20 steps: the fewest calls measured to hold both oracle laws at t_boom 0.2 - 0.8 T on every
# model family's own schedule (docs/FAMILIES.md: 16 families) and to match boomerang_exact within 2 standard errors on
# every anonymization metric of the digits model at 0.3 T and 0.5 T (docs/SAMPLERS_DIGITS.md).
# The pack's boomerang_fast holds both laws at 10 calls on the unit-scale oracles (docs/FRONTIER.md) and on every
# family's schedule (docs/FAMILIES_BOOMERANG_FAST.md) but is not the default yet: its variance is 5-18% narrow on
# data far from unit scale, and on the digits model at 0.5 T its samples stay closer to their sources (pixel
# distance beyond 2 SE, re-identification 7% vs 3%).
RECOMMENDED = FastSetting(sampler="dpmpp_3m_sde", scheduler="karras", steps=20)
