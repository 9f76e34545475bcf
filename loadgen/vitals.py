"""Web-vitals of one page load, drawn from log-normal distributions like those real-user monitoring shows.

Timings of one load share a latent "how slow is this load" factor, so a slow first byte comes with slow
paints, and they stay ordered (TTFB < FCP <= LCP <= load). Medians are near public field data for a
desktop site (TTFB ~0.2 s, FCP ~1.1 s, LCP ~1.8 s, load ~2.4 s, CLS ~0.04); ``slowness`` scales them per
device and page.
"""

from __future__ import annotations

import math
import random
from typing import Any

from schemas.payloads import MAX_DURATION_MS

_CAP = MAX_DURATION_MS


def _ms(value: float) -> int:
    return min(_CAP, int(value))


def draw_vitals(rng: random.Random, slowness: float) -> dict[str, Any]:
    """The seed's metric fields of one page load (milliseconds; CLS unitless, 3 decimals)."""
    lognormal = rng.lognormvariate
    scale = slowness * math.exp(0.35 * rng.gauss(0.0, 1.0))
    ttfb = 180.0 * scale * lognormal(0.0, 0.5)
    fcp = ttfb + 900.0 * scale * lognormal(0.0, 0.45)
    lcp = fcp + 700.0 * scale * lognormal(0.0, 0.6)
    load = lcp + 500.0 * scale * lognormal(0.0, 0.7)
    return {
        "page_load_time": _ms(load),
        "time_to_first_byte": _ms(ttfb),
        "first_contentful_paint": _ms(fcp),
        "largest_contentful_paint": _ms(lcp),
        "cumulative_layout_shift": min(100.0, round(0.04 * lognormal(0.0, 1.1), 3)),
        "first_input_delay": _ms(15.0 * slowness * lognormal(0.0, 0.9)),
        "total_blocking_time": _ms(120.0 * scale * lognormal(0.0, 1.0)),
    }
