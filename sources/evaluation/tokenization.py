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

    def encode_plain(self, text: str) -> list[int]:
        return self._encode(text, False) if text else []

    def generation_ids(self, context: str) -> list[int]:
        """Ids greedy decoding starts from."""
        return self.leading_special_ids + self.encode_plain(context)

    def scoring_ids(
        self, context: str, continuations: list[str]
    ) -> tuple[list[int], list[list[int]]]:
        """(context ids, one id list per continuation) under the chosen convention."""
        if self.convention == "bigbench":
            return self.generation_ids(context), [self.encode_plain(c) for c in continuations]
        stripped = context.rstrip()
        moved = context[len(stripped) :]
        context_ids = self.encode_plain(stripped)
        return context_ids, [
            self.encode_plain(stripped + moved + c)[len(context_ids) :] for c in continuations
        ]

    def decode(self, ids: list[int]) -> str:
        """Text of generated ids: special tokens dropped, no clean-up of spaces (prefix-stable)."""
        return self.tokenizer.decode(
            ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
