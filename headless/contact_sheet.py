"""A labelled contact sheet: one row per (input, seed), one column per t_boom/T, the input in column 0."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BACKGROUND, INK = (255, 255, 255), (20, 20, 20)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 ships a scalable default font
    except TypeError:  # pragma: no cover - older Pillow
        return ImageFont.load_default()


def tile(image: Image.Image, side: int) -> Image.Image:
    """``image`` fitted into a side x side square: pixel-exact blocks when enlarging, Lanczos when shrinking."""
    image = image.convert("RGB")
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.LANCZOS
    out = Image.new("RGB", (side, side), BACKGROUND)
    out.paste(image.resize(size, resample), ((side - size[0]) // 2, (side - size[1]) // 2))
    return out


def draw(rows: list[tuple[str, Image.Image, list[Image.Image]]], columns: list[str], title: str,
         side: int = 64, gap: int = 4) -> Image.Image:
    """rows: (label, input image, outputs per column); columns: header of each output column."""
    font, small = _font(14), _font(11)
    label_w, head_h, title_h = 110, 34, 26
    width = max(label_w + (len(columns) + 1) * (side + gap) + gap, round(font.getlength(title)) + 2 * gap)
    height = title_h + head_h + len(rows) * (side + gap) + gap
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    pen = ImageDraw.Draw(sheet)
    pen.text((gap, 4), title, fill=INK, font=font)
    for c, header in enumerate(["input", *columns]):
        x = label_w + c * (side + gap) + gap
        for k, line in enumerate(header.split("\n")):
            pen.text((x, title_h + k * 13), line, fill=INK, font=small)
    for r, (label, original, outputs) in enumerate(rows):
        y = title_h + head_h + r * (side + gap) + gap
        for k, line in enumerate(label.split("\n")):
            pen.text((gap, y + 4 + k * 14), line, fill=INK, font=small)
        for c, image in enumerate([original, *outputs]):
            sheet.paste(tile(image, side), (label_w + c * (side + gap) + gap, y))
    return sheet


def save(sheet: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
