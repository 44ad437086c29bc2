"""Scales as a reader of the paper expects them: '540B' parameters, '2.5×10²⁴' FLOPs."""

from __future__ import annotations

import math

SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def format_params(params: float | None) -> str:
    """Parameter count as printed in papers ('540B', '62.5B', '422M'), three significant digits."""
    if params is None or not math.isfinite(params) or params <= 0:
        return "?"
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if params >= scale:
            return f"{_significant(params / scale)}{suffix}"
    return _significant(params)


def format_flops(flops: float | None) -> str:
    """Training FLOPs in the paper's notation ('2.5×10²⁴'), two significant digits."""
    if flops is None or not math.isfinite(flops) or flops <= 0:
        return "?"
    exponent = math.floor(math.log10(flops))
    mantissa = flops / 10**exponent
    if round(mantissa, 1) >= 10:
        exponent, mantissa = exponent + 1, mantissa / 10
    power = f"10{str(exponent).translate(SUPERSCRIPT)}"
    text = f"{mantissa:.1f}".rstrip("0").rstrip(".")
    return power if text == "1" else f"{text}×{power}"


def _significant(value: float) -> str:
    """Up to three significant digits, no trailing zeros (540.35 -> '540', 8.63 -> '8.63')."""
    digits = max(0, 2 - math.floor(math.log10(value))) if value > 0 else 0
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def drawable_scale(value: float | None) -> bool:
    """A log axis can only place finite, positive values."""
    return value is not None and math.isfinite(value) and value > 0
