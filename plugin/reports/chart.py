"""The weekly trend chart as inline SVG: no script, no CDN, readable without JavaScript."""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

W, H = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 44, 16, 36


def trend_svg(points: list[dict[str, Any]], target: float | None = 0.8) -> Markup:
    """Bars: tasks resolved per week (left axis); line: share within 1 working day (right)."""
    n = max(len(points), 1)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    top = max([p["resolved"] for p in points] + [1])
    slot = plot_w / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" class="trend" '
        f'role="img" aria-label="Weekly trend">',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{W - RIGHT}" y2="{TOP + plot_h}" '
        'class="axis"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 10}" class="ylab" text-anchor="end">{top}</text>',
        f'<text x="{W - RIGHT + 6}" y="{TOP + 10}" class="ylab">100%</text>',
    ]
    if target is not None:
        y = TOP + plot_h * (1 - target)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" '
                     f'class="target"><title>target {target * 100:g}%</title></line>')
    line: list[str] = []
    for i, p in enumerate(points):
        x = LEFT + i * slot
        bh = plot_h * p["resolved"] / top
        share = p.get("within_1_day")
        week = escape(str(p["week"]))
        parts.append(
            f'<g class="week" data-week="{week}" data-resolved="{p["resolved"]}" '
            f'data-within-1-day="{"" if share is None else share}">'
            f'<rect x="{x + slot * 0.15:.1f}" y="{TOP + plot_h - bh:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{bh:.1f}" class="bar">'
            f'<title>{week}: {p["resolved"]} resolved</title></rect>'
            f'<text x="{x + slot / 2:.1f}" y="{TOP + plot_h - bh - 4:.1f}" class="val" '
            f'text-anchor="middle">{p["resolved"]}</text>'
            f'<text x="{x + slot / 2:.1f}" y="{H - BOTTOM + 16}" class="xlab" '
            f'text-anchor="middle">{week[5:]}</text></g>'
        )
        if share is not None:
            line.append(f"{x + slot / 2:.1f},{TOP + plot_h * (1 - share):.1f}")
    if line:
        parts.append(f'<polyline points="{" ".join(line)}" class="share"/>')
        for pt, p in zip(line, [p for p in points if p.get("within_1_day") is not None],
                         strict=True):
            cx, cy = pt.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" class="dot"><title>'
                         f'{p["within_1_day"] * 100:.0f}% within 1 working day</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))
