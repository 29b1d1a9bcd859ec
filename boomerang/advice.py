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


# boomerang_fast + 10 calls (the scheduler is not used by it beyond its first and lowest level): the fewest calls
# measured to hold both oracle laws at t_boom 0.2 - 0.8 T for EPS and flow models (docs/FRONTIER.md), on data of
# sd 0.25 to 4 (the same doc's scale table) and on every model family's own schedule (docs/FAMILIES_BOOMERANG_FAST.md).
# On the trained digits model (docs/SAMPLERS_DIGITS.md) its anonymization metrics are those of boomerang_exact within
# the sampling uncertainty except the pixel distance at 0.5 T (about 5% shorter), as on the many-mode oracle
# (docs/POINTS.md: 3.6% at 0.5 T; every sampler measured falls short at 10 calls there). dpmpp_3m_sde / karras / 20
# (twice the calls) also holds everywhere and matches both; boomerang_exact is the paper's Algorithm 1 (t_boom calls).
RECOMMENDED = FastSetting(sampler="boomerang_fast", scheduler="karras", steps=10)
