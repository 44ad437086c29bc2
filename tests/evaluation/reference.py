"""Independent references the engine is checked against: transformers' own `generate`."""

from __future__ import annotations

from pathlib import Path

from sources.evaluation.answers import AnswerRule
from sources.evaluation.prompts import Prompt
from sources.evaluation.tokenization import PromptTokenizer


def generate_answers(
    model_dir: Path,
    prompts: list[Prompt],
    rule: AnswerRule,
    max_new_tokens: int,
    tokenization: str = "bigbench",
    batch_size: int = 32,
) -> list[str]:
    """Greedy answers from ``model.generate`` (left-padded batches), post-processed by `rule`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    prompt_tokenizer = PromptTokenizer(tokenizer, tokenization)
    eos = tokenizer.eos_token_id
    answers = []
    for start in range(0, len(prompts), batch_size):
        contexts = [
            prompt_tokenizer.generation_ids(p.text) for p in prompts[start : start + batch_size]
        ]
        longest = max(len(c) for c in contexts)
        ids = torch.full((len(contexts), longest), eos, dtype=torch.long)
        mask = torch.zeros((len(contexts), longest), dtype=torch.long)
        for row, context in enumerate(contexts):
            ids[row, longest - len(context) :] = torch.tensor(context)
            mask[row, longest - len(context) :] = 1
        with torch.inference_mode():
            output = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                eos_token_id=[eos],
                pad_token_id=eos,
            )
        for row in range(len(contexts)):
            generated = output[row, longest:].tolist()
            if eos in generated:
                generated = generated[: generated.index(eos)]
            answers.append(rule.answer(prompt_tokenizer.decode(generated)))
    return answers
