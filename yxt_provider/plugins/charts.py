"""The receipts chart as inline SVG, drawn on the server.

No script and nothing fetched: the page works inside Airflow's sandboxed iframe, in a
screenshot and with scripts off, and the numbers drawn are the numbers read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from yxt_provider.ledger.overview import ReceiptBucket

__all__ = ["bucket_width_label", "receipts_svg"]

_WIDTH, _HEIGHT = 760, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 12, 34


def bucket_width_label(seconds: int, labels: Mapping[str, str]) -> str:
    """A bar's width in the page's words: ``5 min``, ``1 h``, ``7 d``."""
    if seconds % 86400 == 0:
        return labels["days"].format(n=seconds // 86400)
    if seconds % 3600 == 0:
        return labels["hours"].format(n=seconds // 3600)
    return labels["minutes"].format(n=seconds // 60)


def receipts_svg(buckets: Sequence[ReceiptBucket], labels: Mapping[str, str]) -> str:
    """Stacked bars, delivered below failed, one per interval; the y axis marks the tallest bar.

    :param buckets: the intervals, oldest first (at least one).
    :param labels: the page's words (the legend).
    :returns: an ``<svg>`` element; every text in it is escaped.
    """
    tallest = max((b.delivered + b.failed for b in buckets), default=0) or 1
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    step = plot_w / max(len(buckets), 1)
    # A few bars stay bars, not walls.
    bar = min(max(step * 0.8, 1.0), 28.0)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {_WIDTH} {_HEIGHT}" xmlns="http://www.w3.org/2000/svg" '
        f'aria-label="{escape(labels["receipts"])}">',
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_WIDTH - _RIGHT}" y2="{_TOP + plot_h}"/>',
        f'<text class="tick" x="{_LEFT - 6}" y="{_TOP + 4}" text-anchor="end">{tallest}</text>',
        f'<text class="tick" x="{_LEFT - 6}" y="{_TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for i, b in enumerate(buckets):
        x = _LEFT + i * step + (step - bar) / 2
        delivered_h = plot_h * b.delivered / tallest
        failed_h = plot_h * b.failed / tallest
        title = (
            f"{b.start:%Y-%m-%d %H:%M} · {labels['delivered']} {b.delivered} · {labels['failed']} {b.failed}"
        )
        parts.append(f"<g><title>{escape(title)}</title>")
        if b.delivered:
            y = _TOP + plot_h - delivered_h
            parts.append(
                f'<rect class="delivered" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{delivered_h:.1f}" '
                f'data-delivered="{b.delivered}"/>'
            )
        if b.failed:
            y = _TOP + plot_h - delivered_h - failed_h
            parts.append(
                f'<rect class="failed" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{failed_h:.1f}" '
                f'data-failed="{b.failed}"/>'
            )
        parts.append("</g>")
    # Time labels at the first, middle and last bar: enough to read the span, never crowded.
    for i in sorted({0, len(buckets) // 2, len(buckets) - 1}):
        x = _LEFT + i * step + step / 2
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{_HEIGHT - 12}" text-anchor="middle">'
            f"{buckets[i].start:%m-%d %H:%M}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
