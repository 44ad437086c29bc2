"""Which tokens end an answer right after the target: what `eval_examples.end_logprob` sums over.

Why: the probability that a model *produces* the target exactly (expected exact match) is
p(target tokens) x p(the answer stops there). The second factor needs the set of tokens that end
the answer at once, whatever came before; it depends on the task's answer rule (answers.py):

- an EOS token ends generation;
- a token whose text starts with one of the extra stop sequences (cut before it);
- for a run-shaped output regex (``X+`` / ``Y?X+``, BIG-bench's default ``[^.?!;\\n]+`` among
  them) a token whose first character does not match the regex alone ends the run, and so the
  answer (BIG-bench's post-processing keeps the first match).

A token that only *begins* a multi-character stop sequence is not counted, nor are other
tokenizations of the same text: p(target) x p(end) is the probability of the target's canonical
tokenization followed by an ending token, a lower bound on the probability of the exact answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sources.evaluation.answers import AnswerRule, is_run_shaped


def answer_end_ids(
    rule: AnswerRule, token_texts: Sequence[str], eos_token_ids: Iterable[int]
) -> list[int]:
    """Token ids (positions in `token_texts`, each token decoded alone) that end the answer."""
    run = (
        re.compile(rule.output_regex)
        if rule.output_regex and is_run_shaped(rule.output_regex)
        else None
    )
    ends = set(eos_token_ids)
    for token_id, text in enumerate(token_texts):
        if not text:
            continue
        if (
            any(text.startswith(stop) for stop in rule.stop_sequences)
            or run is not None
            and run.fullmatch(text[0]) is None
        ):
            ends.add(token_id)
    return sorted(i for i in ends if 0 <= i < len(token_texts))
