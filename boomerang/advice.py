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


# docs/FRONTIER.md: dpmpp_3m_sde + karras holds both laws at 10 calls (EPS, t_boom <= 0.5 T), 15 (EPS, 0.8 T)
# and 20 (flow): 20 steps is the fewest that holds everywhere.
RECOMMENDED = FastSetting(sampler="dpmpp_3m_sde", scheduler="karras", steps=20)
