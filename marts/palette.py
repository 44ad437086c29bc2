"""The one colour of each model family, the same in every panel, so PaLM is red in Fig. 2 and 3.

Families the lake draws today have a fixed colour below; the ObsScaling families that share a panel
(and the registry's fresh families, drawn beside them) have colours distinct from one another.
A family not listed gets a colour picked by a stable hash of its name: still the same in every
panel and every run, though it may repeat a listed colour (the legend and tooltips tell them apart).
"""

from __future__ import annotations

import hashlib

FAMILY_COLOURS: dict[str, str] = {
    # The paper's families (Tableau 10).
    "GPT-3": "#4e79a7",
    "LaMDA": "#f28e2b",
    "Gopher": "#59a14f",
    "Chinchilla": "#b07aa1",
    "PaLM": "#e15759",
    "PaLM (1.3T-token continuation)": "#f0a3a4",  # a tint of PaLM: the same models, trained longer
    "Anthropic": "#9c755f",
    "FLAN": "#76b7b2",
    "T5": "#ff9da7",
    "EleutherAI": "#bab0ac",
    "UL2": "#79706e",
    "Codex": "#a0522d",
    "InstructGPT": "#2f5d8a",
    # ObsScaling families drawn in Figure 2 A-D, and the registry's fresh families (d3 category20).
    "GPT-2": "#1f77b4",
    "BLOOM": "#ff7f0e",
    "Falcon": "#2ca02c",
    "GPT-Neo/J": "#d62728",
    "Llama": "#9467bd",
    "Llama-2": "#8c564b",
    "Llama-3.1": "#e377c2",
    "OPT": "#7f7f7f",
    "Pythia": "#b6992d",
    # Pythia trained on the deduplicated Pile (lm-eval results): its own series, a distinct hue.
    "Pythia-deduped": "#637939",
    "Qwen": "#17becf",
    "Qwen1.5": "#aec7e8",
    "StarCoder": "#ffbb78",
    "XGLM": "#98df8a",
    "Yi-1.5": "#ff9896",
}

# For families not listed: d3 category20b's darker shades and category20's remaining light ones.
SPARE_COLOURS = (
    "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#5254a3", "#8ca252", "#bd9e39",
    "#ad494a", "#a55194", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5",
)  # fmt: skip


def family_colour(family: str) -> str:
    """The family's colour: listed, or picked by a hash of the name that never changes between runs."""
    if family in FAMILY_COLOURS:
        return FAMILY_COLOURS[family]
    digest = hashlib.sha256(family.encode("utf-8")).digest()
    return SPARE_COLOURS[int.from_bytes(digest[:4], "big") % len(SPARE_COLOURS)]


def _mix(colour: str, towards: str, share: float) -> str:
    """`colour` moved `share` of the way to `towards` (both '#rrggbb')."""
    a = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(towards[i : i + 2], 16) for i in (1, 3, 5)]
    r, g, bl = (round(x + (y - x) * share) for x, y in zip(a, b, strict=True))
    return f"#{r:02x}{g:02x}{bl:02x}"


def size_shades(family: str, n: int) -> list[str]:
    """`n` shades of the family's colour, lightest first, for one line per model size of ONE
    family (the training-progress charts): the hue still says which family, the lightness says
    which size (small = light, large = dark)."""
    base = family_colour(family)
    if n <= 1:
        return [base]
    shares = [-0.6 + 1.05 * i / (n - 1) for i in range(n)]  # 60% white ... 45% black
    return [_mix(base, "#ffffff", -s) if s < 0 else _mix(base, "#000000", s) for s in shares]
