"""How prompt, targets and choices become token ids: the boundary rules, in one place.

Two conventions, chosen by `EvalConfig.tokenization`:

``"bigbench"`` (default; BIG-bench's ``huggingface_models._gpt_batch_tokenize``): the context and
each continuation are tokenized *separately* and their ids concatenated. The scored continuation is
then exactly the token sequence greedy decoding has to produce after the context, so one
teacher-forced pass decides both the target log-probability and, often, the greedy answer.
Deviation: BIG-bench tokenizes targets with the tokenizer's special tokens (a BOS in the middle for
Llama-style tokenizers); here the context keeps the tokenizer's *leading* special tokens (BOS) and
continuations get none. Trailing special tokens (an EOS some tokenizers append) are never added.

``"lm_eval"`` (lm-evaluation-harness ``_encode_pair``): trailing whitespace of the context moves to
the start of the continuation, ``context + continuation`` is tokenized as a whole and split after
the context's own tokens; no special tokens. Used to compare with lm-eval like for like.

Generation always starts from the context ids of the chosen convention *without* moving
whitespace (lm-eval's ``generate_until`` does the same), i.e. `generation_ids`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Tokenization = Literal["bigbench", "lm_eval"]
TOKENIZATIONS: tuple[str, ...] = ("bigbench", "lm_eval")


@dataclass
class PromptTokenizer:
    """Wraps a Hugging Face tokenizer with the engine's boundary rules."""

    tokenizer: Any
    convention: Tokenization = "bigbench"

    def __post_init__(self) -> None:
        if self.convention not in TOKENIZATIONS:
            raise ValueError(
                f"tokenization must be one of {TOKENIZATIONS}, got {self.convention!r}"
            )
        probe = "a"
        with_special = self._encode(probe, True)
        plain = self._encode(probe, False)
        # Special tokens the tokenizer puts *before* the text (a BOS); trailing ones are dropped.
        start = next(
            (i for i in range(len(with_special)) if with_special[i : i + len(plain)] == plain), 0
        )
        leading = with_special[:start]
        self.leading_special_ids: list[int] = leading if self.convention == "bigbench" else []

    def _encode(self, text: str, special: bool) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    def encode_plain_many(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, no special tokens (one batched call: fast tokenizers are Rust)."""
        if not texts:
            return []
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is not None:  # skips transformers' per-item conversion of the encodings
            return [e.ids for e in backend.encode_batch(list(texts), add_special_tokens=False)]
        encoded = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [list(ids) for ids in encoded]

    def encode_plain(self, text: str) -> list[int]:
        return self.encode_plain_many([text])[0] if text else []

    def generation_ids_many(self, contexts: list[str]) -> list[list[int]]:
        """Ids greedy decoding starts from, per context."""
        return [self.leading_special_ids + ids for ids in self.encode_plain_many(contexts)]

    def generation_ids(self, context: str) -> list[int]:
        return self.generation_ids_many([context])[0]

    def scoring_ids_many(
        self, contexts: list[str], continuations: list[list[str]]
    ) -> list[tuple[list[int], list[list[int]]]]:
        """Per context: (context ids, one id list per continuation) under the chosen convention."""
        flat = [(i, c) for i, conts in enumerate(continuations) for c in conts]
        if self.convention == "bigbench":
            context_ids = self.generation_ids_many(contexts)
            encoded = self.encode_plain_many([c for _, c in flat])
        else:
            stripped = [c.rstrip() for c in contexts]
            context_ids = self.encode_plain_many(stripped)
            joined = [
                contexts[i] + c for i, c in flat
            ]  # stripped + moved whitespace + continuation
            encoded = [
                whole[len(context_ids[i]) :]
                for (i, _), whole in zip(flat, self.encode_plain_many(joined), strict=True)
            ]
        grouped: list[list[list[int]]] = [[] for _ in contexts]
        for (i, _), ids in zip(flat, encoded, strict=True):
            grouped[i].append(ids)
        return list(zip(context_ids, grouped, strict=True))

    def scoring_ids(
        self, context: str, continuations: list[str]
    ) -> tuple[list[int], list[list[int]]]:
        return self.scoring_ids_many([context], [continuations])[0]

    def decode(self, ids: list[int]) -> str:
        """Text of generated ids: special tokens dropped, no clean-up of spaces (prefix-stable)."""
        return self.decode_many([ids])[0]

    def decode_many(self, sequences: list[list[int]]) -> list[str]:
        """`decode` for many sequences in one call (the Rust backend when there is one)."""
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is not None:
            return backend.decode_batch(sequences, skip_special_tokens=True)
        return [
            self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            for ids in sequences
        ]
