"""Small causal LMs built locally: a tokenizer trained with `tokenizers`, a GPT-2 or Llama config.

Why: tests, benchmarks and the lab's ladders (sources/lab) need real models without the network. They are saved with
``save_pretrained`` and loaded back through `model.load_model`, the same path as hub models.
Training is a few seconds of AdamW on task-formatted text, enough to make accuracy move off zero.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

EOS_TOKEN = "<|endoftext|>"


def build_tokenizer(texts: Iterable[str], vocab_size: int = 512) -> Any:
    """A byte-level BPE tokenizer (GPT-2 style: no BOS added, spaces kept on decode)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=EOS_TOKEN,
        bos_token=EOS_TOKEN,
        unk_token=EOS_TOKEN,
        pad_token=EOS_TOKEN,
        clean_up_tokenization_spaces=False,
    )


def build_model(
    kind: Literal["gpt2", "llama"],
    vocab_size: int,
    *,
    layers: int = 2,
    width: int = 64,
    heads: int = 4,
    max_positions: int = 1024,
    eos_token_id: int = 0,
    seed: int = 0,
    init_std: float = 0.02,
) -> Any:
    """A randomly initialised causal LM of the given shape.

    A larger `init_std` gives an untrained model peaked next-token distributions (clear argmax
    winners), which makes it a better subject for greedy-decoding tests than near-uniform logits.
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    if kind == "gpt2":
        config = GPT2Config(
            vocab_size=vocab_size,
            n_positions=max_positions,
            n_embd=width,
            n_layer=layers,
            n_head=heads,
            bos_token_id=eos_token_id,
            eos_token_id=eos_token_id,
            pad_token_id=eos_token_id,
            initializer_range=init_std,
        )
        return GPT2LMHeadModel(config)
    if kind == "llama":
        config = LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=width,
            intermediate_size=4 * width,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            max_position_embeddings=max_positions,
            bos_token_id=eos_token_id,
            eos_token_id=eos_token_id,
            pad_token_id=eos_token_id,
            initializer_range=init_std,
        )
        return LlamaForCausalLM(config)
    raise ValueError(f"unknown model kind {kind!r} (expected 'gpt2' or 'llama')")


def train(
    model: Any,
    sequences: Sequence[Sequence[int]],
    *,
    loss_from: Sequence[int] | None = None,
    pad_token_id: int,
    steps: int,
    batch_size: int = 16,
    learning_rate: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """AdamW on token sequences; returns the loss per step.

    The loss covers every token, or with `loss_from` only tokens from ``loss_from[i]`` on in
    sequence i (e.g. the answer after a prompt: the model learns the task, not the questions).
    """
    import torch

    generator = random.Random(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=learning_rate, total_steps=steps, pct_start=0.1
    )
    losses = []
    model.train()
    for _ in range(steps):
        picks = [generator.randrange(len(sequences)) for _ in range(batch_size)]
        batch = [sequences[i] for i in picks]
        longest = max(len(ids) for ids in batch)
        ids = torch.full((batch_size, longest), pad_token_id, dtype=torch.long)
        labels = torch.full((batch_size, longest), -100, dtype=torch.long)
        mask = torch.zeros((batch_size, longest), dtype=torch.long)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            first = loss_from[picks[row]] if loss_from is not None else 0
            labels[row, first : len(tokens)] = torch.tensor(tokens[first:])
            mask[row, : len(tokens)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def save(model: Any, tokenizer: Any, directory: Path) -> Path:
    """save_pretrained both (safetensors), so `load_model` reads them like any model directory."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


def task_training_sequences(
    prompts: Sequence[Any], tokenizer: Any, separator: str
) -> tuple[list[list[int]], list[int]]:
    """Token ids of prompt + first target + separator, tokenized as the engine tokenizes them
    (a `PromptTokenizer`), so the model learns the very boundary it is evaluated on; and, per
    sequence, where the answer starts (for `train(loss_from=...)`)."""
    sequences, answer_starts = [], []
    for prompt in prompts:
        context = tokenizer.generation_ids(prompt.text)
        answer = tokenizer.encode_plain(prompt.targets[0]) + tokenizer.encode_plain(separator)
        sequences.append(context + answer)
        answer_starts.append(len(context))
    return sequences, answer_starts
