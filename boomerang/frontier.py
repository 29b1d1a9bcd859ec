"""What a sampler setting costs and whether it holds Boomerang's law, from the measured frontier
(boomerang/frontier_table.py, generated from docs/FRONTIER.md): the second half of the nodes' level line."""
from __future__ import annotations

from . import frontier_table as table
from .checks import EXACT
from .schedule import describe_level

# Level kinds (boomerang.schedule.LEVEL_KINDS) -> the frontier's model kinds; continuous (EDM-style) models
# were not measured there.
FRONTIER_KIND = {"discrete": "eps", "flow": "flow"}


def model_calls(sampler: str, steps: int, t_boom: int) -> int | None:
    """Model evaluations of one pass (per batch, at any cfg: cond and uncond go in one call); None if unknown."""
    if t_boom <= 0:
        return 0
    if sampler == EXACT:
        return t_boom
    rule = table.CALLS.get(sampler)
    if rule is None:
        return None
    per_step, offset = rule
    return per_step * min(steps, t_boom) + offset


def required_calls(sampler: str, kind: str, t_boom: int, total: int) -> int | None:
    """Fewest calls at which ``sampler`` holds the law at t_boom/total, conservatively: below the lowest measured
    level the lowest level's need, above the highest the highest's, between two the larger of the two (None:
    held at no measured budget at one of them)."""
    need = table.FEWEST[sampler][kind]
    fractions = [t / table.T for t in table.T_BOOMS]
    f = t_boom / total if total else 0.0
    if f <= fractions[0]:
        return need[0]
    if f >= fractions[-1]:
        return need[-1]
    for i in range(len(fractions) - 1):
        if fractions[i] <= f <= fractions[i + 1]:
            pair = [need[i]] if f == fractions[i] else [need[i + 1]] if f == fractions[i + 1] else need[i:i + 2]
            return None if None in pair else max(pair)
    return None


def describe_setting(sampler: str, scheduler: str, steps: int, t_boom: int, total: int, kind: str) -> str:
    """``"20 model evaluations - law within tolerance"`` or a warning, for the level line."""
    if t_boom <= 0:
        return "no model evaluations"
    calls = model_calls(sampler, steps, t_boom)
    count = f"{calls} model evaluations" if calls is not None else f"{min(steps, t_boom)} steps"
    if sampler == EXACT:
        return f"{count} - the paper's exact Algorithm 1"
    if sampler in table.DETERMINISTIC:
        return f"{count} - {sampler} is deterministic: the spread will be narrower than Boomerang's law"
    if scheduler != table.SCHEDULER:
        return f"{count} - law measured with the {table.SCHEDULER} scheduler only"
    frontier_kind = FRONTIER_KIND.get(kind)
    if sampler not in table.FEWEST or frontier_kind is None:
        what = sampler if sampler not in table.FEWEST else "this model type"
        return f"{count} - law not measured for {what}"
    need = required_calls(sampler, frontier_kind, t_boom, total)
    if need is None:
        return f"{count} - {sampler} misses the law here at every measured budget (up to 30 calls): use another sampler"
    if calls is not None and calls >= need:
        return f"{count} - law within tolerance"
    return f"{count} - too few steps for {sampler} here: the spread will be off (the law holds from {need} evaluations)"


def level_line(t_boom: int, total: int, sigma: float, kind: str, sampler: str | None = None,
               scheduler: str = "", steps: int = 0) -> str:
    """The nodes' level line: the start level in the model's own terms, then (for a reverse pass) its cost and
    whether the setting holds the law, e.g. ``flow time 0.50 (t_boom 500/1000), sigma 0.75 - local sample · 20
    model evaluations - law within tolerance``."""
    text = describe_level(t_boom, total, sigma, kind)
    if sampler is None or t_boom <= 0:
        return text
    return f"{text} · {describe_setting(sampler, scheduler, steps, t_boom, total, kind)}"
