"""One step of greedy decoding as a rule: when generation ends and what the answer is.

The same `GreedyJudge.step` drives both the decoding loop (decoding.py) and the fast path that
replays, token by token, the greedy prefix known from one teacher-forced pass (engine.py). Using one
rule for both is what makes the fast path equal to generation by construction:

- a token in `eos_token_ids` ends generation; it is not part of the text (as ``generate`` +
  ``decode(skip_special_tokens=True)``);
- otherwise the token is appended; if the decoded text now settles the answer
  (`AnswerRule.settled_answer`), generation may stop early: every continuation gives that answer;
- after `max_new_tokens` tokens generation ends.

The early stop relies on the tokenizer's decode being prefix-stable (the text of more tokens starts
with the text of fewer), which holds for byte-level BPE, SentencePiece/Metaspace and WordPiece
decoders when spaces are not cleaned up. Two guards fall back to "keep generating" when that may
not hold: a text containing U+FFFD (a multi-byte character split across tokens) never settles, and
neither does a text that does not start with the previous step's text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sources.evaluation.answers import AnswerRule


@dataclass
class GreedyState:
    """Tokens generated so far (EOS excluded) and, once finished, the answer."""

    ids: list[int]
    text: str = ""
    answer: str | None = None
    ended_by: str | None = None  # eos | max_new_tokens | settled

    @property
    def finished(self) -> bool:
        return self.answer is not None


@dataclass(frozen=True)
class GreedyJudge:
    rule: AnswerRule
    decode_many: Callable[[list[list[int]]], list[str]]  # one batched call for many rows
    eos_token_ids: frozenset[int]
    max_new_tokens: int

    def new_state(self) -> GreedyState:
        return GreedyState(ids=[])

    def step(self, state: GreedyState, token: int) -> bool:
        """Feed the next greedy token; True when generation is finished (answer set)."""
        return self.step_many([state], [token])[0]

    def step_many(self, states: list[GreedyState], tokens: list[int]) -> list[bool]:
        """`step` for many rows at once (their texts decoded in one call)."""
        finished = [False] * len(states)
        growing = []
        for i, (state, token) in enumerate(zip(states, tokens, strict=True)):
            if state.finished:
                raise RuntimeError("step() after the generation finished")
            if token in self.eos_token_ids:  # state.text is the text of state.ids
                state.answer, state.ended_by = self.rule.answer(state.text), "eos"
                finished[i] = True
            else:
                state.ids.append(token)
                growing.append(i)
        texts = self.decode_many([states[i].ids for i in growing]) if growing else []
        for i, text in zip(growing, texts, strict=True):
            state = states[i]
            previous, state.text = state.text, text
            if "\ufffd" not in text and text.startswith(previous):
                settled = self.rule.settled_answer(text)
                if settled is not None:
                    state.answer, state.ended_by = settled, "settled"
                    finished[i] = True
                    continue
            if len(state.ids) >= self.max_new_tokens:
                state.answer, state.ended_by = self.rule.answer(text), "max_new_tokens"
                finished[i] = True
        return finished
