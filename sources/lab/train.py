"""Train one ladder size: torch + transformers (a GPT-2 or Llama config), deterministic on CPU.

Determinism: `torch.use_deterministic_algorithms(True)`, a fixed thread count, the model
initialised from `torch.manual_seed(seed)` and batches drawn by a seeded `torch.Generator`, so
the same config gives byte-identical weights (tests/lab checks the weights hash). On CUDA the
same code runs in bfloat16 autocast where the config asks for it.

What is recorded: the training loss every `loss_every` steps, the held-out loss (mean next-token
cross-entropy over the held-out documents, on the tokens the training loss covers) at each
kept checkpoint, the exact parameter count,
tokens seen (steps x batch x context, every position is a real token: the stream is packed) and
FLOPs = 6 * N * D from those two counts. A manifest.json in the size's directory makes a second
run with the same size hash a cache hit.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sources.lab.config import LadderConfig, SizeSpec
from sources.paths import data_dir

EOS = "<|endoftext|>"
ANSWER = re.compile(r"\nA: (-?\d+)")
MANIFEST = "manifest.json"

Log = Callable[[str], None]


def lab_dir() -> Path:
    return data_dir() / "lab"


def size_dir(config: LadderConfig, size: str) -> Path:
    return lab_dir() / config.family / f"{size}-{config.size_hash(size)}"


def build_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """Byte-level BPE that keeps every digit its own token (numbers are read digit by digit) and
    may merge across spaces, so the prompt's fixed words ("\\n  choice: ") cost one token each."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=EOS,
        bos_token=EOS,
        unk_token=EOS,
        pad_token=EOS,
        clean_up_tokenization_spaces=False,
    )


def build_model(config: LadderConfig, spec: SizeSpec, vocab_size: int, eos_id: int) -> Any:
    """One ladder size, randomly initialised from the ladder's seed (the engine's toy-model
    builder: the same transformers configs the tests and benchmarks use)."""
    from sources.evaluation import toy_models

    return toy_models.build_model(
        config.architecture,
        vocab_size,
        layers=spec.layers,
        width=spec.width,
        heads=spec.heads,
        max_positions=config.training.context_length,
        eos_token_id=eos_id,
        seed=config.seed,
    )


def count_params(model: Any) -> int:
    """Every parameter once (tied input/output embeddings count once)."""
    return sum(p.numel() for p in model.parameters())


def token_stream(documents: list[str], tokenizer: Any) -> tuple[list[int], list[bool]]:
    """Documents tokenized and packed into one stream, EOS between them; and per token whether
    it belongs to an answer (the digits after "A: " and the token that ends them)."""
    eos = tokenizer.convert_tokens_to_ids(EOS)
    encoded = tokenizer(documents, add_special_tokens=False, return_offsets_mapping=True)
    stream: list[int] = []
    answer: list[bool] = []
    for doc, ids, offsets in zip(
        documents, encoded["input_ids"], encoded["offset_mapping"], strict=True
    ):
        spans = [(m.start(1), m.end(1) + 1) for m in ANSWER.finditer(doc)]
        stream += ids + [eos]
        answer += [any(a <= start < b for a, b in spans) for start, _ in offsets] + [True]
    return stream, answer


def resolve_device(config: LadderConfig) -> str:
    import torch

    if config.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return config.device


def weights_sha256(directory: Path) -> str:
    import hashlib

    return hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()


def _windows(documents: list[str], tokenizer: Any, context: int, loss_on: str) -> tuple[Any, Any]:
    """The packed stream cut into `context`-token rows, and their labels (-100 where no loss)."""
    import torch

    ids, answer = token_stream(documents, tokenizer)
    usable = (len(ids) // context) * context
    stream = torch.tensor(ids[:usable], dtype=torch.long)
    labels = stream.clone()
    if loss_on == "answers":
        labels[~torch.tensor(answer[:usable])] = -100
    return stream.view(-1, context), labels.view(-1, context)


def _held_out_loss(model: Any, held: Any, labels: Any, batch_size: int, autocast: Any) -> float:
    """Mean next-token cross-entropy over the held-out tokens the training loss covers."""
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, held.shape[0], batch_size):
            batch, targets = held[start : start + batch_size], labels[start : start + batch_size]
            n = int((targets[:, 1:] != -100).sum())
            with autocast():
                loss = model(input_ids=batch, labels=targets, use_cache=False).loss
            total += float(loss) * n
            count += n
    model.train()
    return total / count


def train_size(
    config: LadderConfig,
    size: str,
    train_docs: list[str],
    held_docs: list[str],
    tokenizer: Any,
    *,
    log: Log = print,
    show_progress: bool = True,
) -> dict:
    """Train one size (or return its manifest when already trained with this size hash)."""
    import contextlib

    import torch
    from tqdm.auto import tqdm

    out = size_dir(config, size)
    manifest_path = out / MANIFEST
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("size_hash") == config.size_hash(size):
            log(f"{config.model_id(size)}: trained already ({out}), cache hit")
            return {**manifest, "cache_hit": True}
    spec = config.size(size)
    recipe = config.training
    device = resolve_device(config)
    torch.use_deterministic_algorithms(True)
    if device == "cpu":
        torch.set_num_threads(config.threads)
    eos = tokenizer.convert_tokens_to_ids(EOS)
    model = build_model(config, spec, len(tokenizer), eos).to(device)
    n_params = count_params(model)
    context = recipe.context_length
    windows, labels = _windows(train_docs, tokenizer, context, recipe.loss_on)
    held, held_labels = _windows(held_docs, tokenizer, context, recipe.loss_on)
    held, held_labels = held.to(device), held_labels.to(device)
    budget = (
        recipe.tokens
        if recipe.token_budget == "fixed"
        else int(recipe.tokens_per_parameter * n_params)
    )
    steps = max(1, budget // (recipe.batch_size * context))
    keep = sorted({max(1, round(f * steps)) for f in recipe.checkpoints})
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=0.01)
    warmup = max(1, int(recipe.warmup_fraction * steps))

    def lr_at(step: int) -> float:  # linear warm-up, cosine decay to 10%
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    use_bf16 = device.startswith("cuda") and config.dtype == "bfloat16"

    def autocast() -> Any:
        if use_bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    log(
        f"{config.model_id(size)}: {n_params:,} parameters, {steps} steps x "
        f"{recipe.batch_size} x {context} tokens on {device}, checkpoints at steps {keep}"
    )
    started = time.perf_counter()
    losses: list[dict] = []
    checkpoints: list[dict] = []
    model.train()
    bar = tqdm(range(1, steps + 1), desc=size, disable=not show_progress, leave=False)
    for step in bar:
        rows = torch.randint(windows.shape[0], (recipe.batch_size,), generator=generator)
        batch, targets = windows[rows].to(device), labels[rows].to(device)
        with autocast():
            loss = model(input_ids=batch, labels=targets, use_cache=False).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % recipe.loss_every == 0 or step == steps:
            value = float(loss.detach())
            losses.append({"step": step, "loss": value})
            bar.set_postfix(loss=f"{value:.3f}")
        if step in keep:
            tokens_seen = step * recipe.batch_size * context
            directory = out / f"step-{step}"
            model.save_pretrained(directory, safe_serialization=True)
            tokenizer.save_pretrained(directory)
            held_loss = _held_out_loss(model, held, held_labels, recipe.batch_size, autocast)
            checkpoints.append(
                {
                    "step": step,
                    "tokens_seen": tokens_seen,
                    "flops": 6.0 * n_params * tokens_seen,
                    "held_out_loss": held_loss,
                    "weights": str(directory),
                    "weights_sha256": weights_sha256(directory),
                    "final": step == steps,
                }
            )
            log(
                f"{config.model_id(size)} step {step}/{steps}: train loss {float(loss.detach()):.3f}, "
                f"held-out loss {held_loss:.3f} ({time.perf_counter() - started:.0f} s)"
            )
    final = checkpoints[-1]
    manifest = {
        "model_id": config.model_id(size),
        "family": config.family,
        "ladder": config.name,
        "series_hash": config.series_hash,
        "size_hash": config.size_hash(size),
        "size": spec.model_dump(),
        "architecture": config.architecture,
        "params": n_params,
        "tokens_seen": final["tokens_seen"],
        "flops": final["flops"],
        "steps": steps,
        "device": device,
        "train_seconds": time.perf_counter() - started,
        "loss_curve": losses,
        "checkpoints": checkpoints,
        "final_weights": final["weights"],
        "held_out_loss": final["held_out_loss"],
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return {**manifest, "cache_hit": False}
