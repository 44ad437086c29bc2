"""GPU memory an evaluation needs, per registry model: an ESTIMATE from parameter counts.

    .venv/bin/python benchmarks/gpu_memory.py [--token-budget 32768] [--dtype bfloat16]

Why computed, not measured: the lake has no GPU in CI and downloads no weights in tests. Each
registry architecture is built on PyTorch's meta device (shapes only, no memory, no download) from
its published hyperparameters, and its parameters are counted; for Pythia the count is checked
against the total the model cards print. Then, for one batch of `token_budget` padded tokens (the
engine's default on CUDA, `engine.DEFAULT_TOKEN_BUDGET`):

    weights = params x bytes per parameter of the dtype (bfloat16/float16: 2, float32: 4)
    kv      = 2 (keys, values) x layers x hidden size x bytes x token_budget
              (the scoring batch's KV cache, kept alive for greedy decoding)
    logits  = token_budget x vocabulary x 6 bytes (the dtype's logits + their float32 copy) --
              the worst case, where every token of the batch is a scored continuation token;
              contexts are not scored (logits_to_keep), so real batches need a fraction of it
    total   = weights + kv + logits + 1 GiB (CUDA context, allocator slack, attention mask)

kv and logits scale with `--token-budget`: halve it on a smaller card.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GIB = 1024**3
BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
# Pythia (Biderman et al. 2023, model cards' "Engineering details" table): layers, width, heads;
# vocabulary from total - non-embedding params = 2 x vocab x width (untied in/out embeddings).
PYTHIA = {
    "70m": (6, 512, 8, 50304),
    "160m": (12, 768, 12, 50304),
    "410m": (24, 1024, 16, 50304),
    "1b": (16, 2048, 8, 50304),
    "1.4b": (24, 2048, 16, 50304),
    "2.8b": (32, 2560, 32, 50304),
    "6.9b": (32, 4096, 32, 50432),
    "12b": (36, 5120, 40, 50688),
}
# Total parameters as the Pythia model cards print them ("Naming convention and parameter count").
PYTHIA_CARD_TOTAL = {
    "70m": 70_426_624,
    "160m": 162_322_944,
    "410m": 405_334_016,
    "1b": 1_011_781_632,
    "1.4b": 1_414_647_808,
    "2.8b": 2_775_208_960,
    "6.9b": 6_857_302_016,
    "12b": 11_846_072_320,
}
# GPT-2 (Radford et al. 2019, Table 2): layers, width; 64-wide heads, 50257 tokens, tied embeddings.
GPT2 = {
    "gpt2": (12, 768),
    "gpt2-medium": (24, 1024),
    "gpt2-large": (36, 1280),
    "gpt2-xl": (48, 1600),
}


def architectures() -> dict[str, tuple[object, int | None]]:
    """registry id -> (transformers config, the model card's parameter count or None)."""
    from transformers import GPT2Config, GPTNeoXConfig

    configs: dict[str, tuple[object, int | None]] = {}
    for size, (layers, width, heads, vocab) in PYTHIA.items():
        config = GPTNeoXConfig(
            vocab_size=vocab,
            hidden_size=width,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=4 * width,
            rotary_pct=0.25,
            max_position_embeddings=2048,
            tie_word_embeddings=False,
        )
        configs[f"pythia-{size}-deduped"] = (config, PYTHIA_CARD_TOTAL[size])
    for name, (layers, width) in GPT2.items():
        config = GPT2Config(n_layer=layers, n_embd=width, n_head=width // 64, vocab_size=50257)
        configs[name] = (config, None)
    return configs


def count_parameters(config: object) -> int:
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def estimate(config: object, params: int, dtype: str, token_budget: int) -> dict[str, float]:
    layers = getattr(config, "num_hidden_layers", None) or config.n_layer
    width = getattr(config, "hidden_size", None) or config.n_embd
    size = BYTES[dtype]
    weights = params * size
    kv = 2 * layers * width * size * token_budget
    logits = token_budget * config.vocab_size * (size + 4)
    return {
        "weights": weights / GIB,
        "kv": kv / GIB,
        "logits": logits / GIB,
        "total": (weights + kv + logits) / GIB + 1.0,
    }


def main() -> None:
    from sources.evaluation.engine import DEFAULT_TOKEN_BUDGET

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token-budget", type=int, default=DEFAULT_TOKEN_BUDGET["cuda"])
    parser.add_argument("--dtype", choices=sorted(BYTES), default="bfloat16")
    args = parser.parse_args()
    print(
        f"| model | params (counted) | weights {args.dtype} | KV cache | logits (worst) | "
        f"total estimate | weights float32 |\n|---|---:|---:|---:|---:|---:|---:|"
    )
    for model_id, (config, card_total) in architectures().items():
        params = count_parameters(config)
        if card_total is not None and params != card_total:
            raise SystemExit(
                f"{model_id}: counted {params:,} parameters, model card {card_total:,}"
            )
        gib = estimate(config, params, args.dtype, args.token_budget)
        print(
            f"| {model_id} | {params:,} | {gib['weights']:.1f} GiB | {gib['kv']:.1f} GiB | "
            f"{gib['logits']:.1f} GiB | **{gib['total']:.0f} GiB** | "
            f"{params * 4 / GIB:.1f} GiB |"
        )
    print(
        f"\ntoken budget {args.token_budget} padded tokens per batch; Pythia counts equal the "
        "model cards' totals; total = weights + KV + logits + 1 GiB. An estimate, not a measurement."
    )


if __name__ == "__main__":
    main()
