"""What every shipped workflow shares: the fast setting (from boomerang/advice.py), the example file names, the
layout grid and the "Read me first" note.

Layout: nodes sit in columns; every node's rectangle (title bar included) keeps GAP from every other, which
tests/test_browser.py checks in the real frontend. Sizes are at least what the frontend computes for the node.
"""
from __future__ import annotations

from boomerang.advice import RECOMMENDED

from .workflow_format import UIWorkflow

IMAGE = "example.png"
VIDEO = "example.mp4"
# The one recommended fast setting; cfg is the family's own (each workflow adds it).
FAST = {"sampler": RECOMMENDED.sampler, "scheduler": RECOMMENDED.scheduler, "steps": RECOMMENDED.steps}

TITLE = 30  # LiteGraph's title bar, drawn above node.pos
GAP = 40
NOTE_SIZE = (560, 200)
TOP = 20 + NOTE_SIZE[1] + GAP + TITLE  # first row under the "Read me first" note
COL_LOADERS, COL_PROMPTS, COL_MIDDLE = 40, 420, 880
ROW = 300 + TITLE + GAP  # height of one row of a strip (Boomerang node 300 high)
BOOMERANG_SIZE, DECODE_SIZE, STITCH_SIZE, SAVE_SIZE = (340, 300), (240, 80), (320, 170), (320, 300)
STITCH = {"direction": "right", "match_image_size": True, "spacing_width": 8, "spacing_color": "white"}


def below(y: int, height: int) -> int:
    """pos.y of the next node under one at pos.y ``y`` that is ``height`` high."""
    return y + height + GAP + TITLE


def right_of(x: int, width: int) -> int:
    return x + width + GAP + 20


def note(wf: UIWorkflow, text: str, size=NOTE_SIZE) -> None:
    wf.note(text, (COL_LOADERS, 20), size=size)


def strip_columns(first: int = COL_MIDDLE):
    """x of the Boomerang, VAE Decode and last columns of the strip workflows (after a 240 wide node at ``first``)."""
    boom = right_of(first, 240)
    decode = right_of(boom, BOOMERANG_SIZE[0])
    return boom, decode, right_of(decode, DECODE_SIZE[0])
