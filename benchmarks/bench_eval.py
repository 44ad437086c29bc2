"""Benchmark: this engine against EleutherAI lm-evaluation-harness, like for like.

Same ~20M-parameter model (a GPT-2 config and a byte-level BPE tokenizer built and briefly trained
here, saved once under --model-dir), same BIG-bench task file, same examples and same prompt
strings; lm-eval reads them from a local JSONL through a local YAML task and runs through
``simple_evaluate`` with the ``hf`` model (pretrained=<the directory>), offline. Both sides must
give the same per-example predictions and the same score; the script reports any difference.

Speed is examples per second excluding process start-up and model load (both models are loaded
before timing): for lm-eval the time spent inside its request methods (``loglikelihood``,
``generate_until``), for the engine the whole ``evaluate`` call (prompts, tokenization, model,
metrics). Each side runs --repeats times, alternating; the best run counts. Model FLOPs/s
(2 x params x tokens processed / s) are printed next to a measured matmul rate on the same device
and dtype.

Cases: multiple choice (parsinlu_qa, 2-shot) and generative exact match on an arithmetic subtask,
twice: with BIG-bench's semantics (the answer is the output regex's first match in the whole
generation, up to --max-new-tokens; lm-eval has to generate all of it, the engine stops as soon as
the match provably cannot change) and with both sides also stopping at the first newline
(lm-eval ``until: ["\\n"]``, the engine's ``stop_sequences``).

Comparability settings (see README.md): the engine runs with ``tokenization="lm_eval"``
(lm-eval's context/continuation split: trailing whitespace moved into the continuation, joint
tokenization) and the same token limit and stop sequences as lm-eval; lm-eval applies BIG-bench's
output regex with its ``regex`` filter (fallback "" as in BIG-bench).

    .venv/bin/python benchmarks/bench_eval.py --out data/bench/bench_eval.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Offline before anything imports huggingface_hub / datasets.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sources.bigbench import load_task  # noqa: E402
from sources.evaluation.engine import (  # noqa: E402
    default_max_new_tokens,
    evaluate,
    select_examples,
)
from sources.evaluation.model import ModelSpec, load_model  # noqa: E402
from sources.evaluation.prompts import Prompt, build_prompts  # noqa: E402
from sources.evaluation.tokenization import PromptTokenizer  # noqa: E402
from sources.paths import data_dir  # noqa: E402

TOKENIZER_TASKS = (
    "parsinlu_qa",
    "parsinlu_reading_comprehension",
    "word_unscrambling",
    "international_phonetic_alphabet_transliterate",
    "modified_arithmetic/three_digit_addition_control",
)


@dataclass
class Case:
    name: str
    task_id: str
    kind: str  # "multiple_choice" | "generate"
    limit: int
    until: tuple[str, ...] = ()  # generation: stop sequences for both sides (lm-eval `until`)


CASE_NAMES = ("mc", "gen_bigbench", "gen_until_newline")


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument("--model-dir", type=Path, default=None, help="default: data/bench/gpt2-20m")
    parser.add_argument("--train-steps", type=int, default=60, help="brief training of a new model")
    parser.add_argument("--mc-task", default="parsinlu_qa")
    parser.add_argument("--gen-task", default="arithmetic/2_digit_addition")
    parser.add_argument("--mc-limit", type=int, default=60)
    parser.add_argument("--gen-limit", type=int, default=150)
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="generation limit for both sides (lm-eval max_gen_toks); default: the engine's "
        "default for --gen-task (2 x its longest target in tokens + 8)",
    )
    parser.add_argument(
        "--lm-eval-batch-size",
        type=_int_list,
        default=None,
        help="comma-separated; each is run and lm-eval's fastest counts (default 8,16,32 on cpu, "
        "32,64,128 on cuda)",
    )
    parser.add_argument(
        "--cases",
        type=lambda text: text.split(","),
        default=list(CASE_NAMES),
        help=f"comma-separated subset of {','.join(CASE_NAMES)}",
    )
    parser.add_argument("--token-budget", type=int, default=None, help="engine; default per device")
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed rounds (engine variants, then lm-eval at its fastest batch size); best counts",
    )
    return parser.parse_args()


# -- the model ---------------------------------------------------------------------------------


def build_or_reuse_model(model_dir: Path, gen_task: str, steps: int, device: str) -> Path:
    """A GPT-2 with ~20M parameters and an 8k BPE vocabulary, trained briefly on `gen_task`."""
    if (model_dir / "config.json").exists():
        return model_dir
    import torch

    from sources.evaluation import toy_models
    from sources.evaluation.tokenization import PromptTokenizer

    texts = []
    for task_id in (*TOKENIZER_TASKS, gen_task):
        for example in load_task(task_id).examples[:3000]:
            texts.append(" ".join((example.input, *example.targets, *example.choices)))
    tokenizer = toy_models.build_tokenizer(texts, vocab_size=8192)
    model = toy_models.build_model(
        "gpt2",
        len(tokenizer),
        layers=10,
        width=384,
        heads=6,
        max_positions=1024,
        eos_token_id=tokenizer.eos_token_id,
    )
    task = load_task(gen_task)
    # 0-shot prompts are short (cheap to train on); the answer format carries over to 2-shot.
    prompts = [p for seed in range(2) for p in build_prompts(task, 0, seed=1000 + seed)]
    sequences, starts = toy_models.task_training_sequences(
        prompts, PromptTokenizer(tokenizer, "lm_eval"), task.few_shot_example_separator
    )
    model.to(device)
    started = time.perf_counter()
    losses = _train_on(model, sequences, starts, tokenizer.pad_token_id, steps, device)
    print(
        f"trained {steps} steps in {time.perf_counter() - started:.0f} s, loss {losses[0]:.2f} -> {losses[-1]:.2f}"
    )
    model.to(torch.device("cpu"))
    return toy_models.save(model, tokenizer, model_dir)


def _train_on(model: Any, sequences, starts, pad_id: int, steps: int, device: str) -> list[float]:
    import random

    import torch

    generator = random.Random(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    model.train()
    for _ in range(steps):
        picks = [generator.randrange(len(sequences)) for _ in range(16)]
        longest = max(len(sequences[i]) for i in picks)
        ids = torch.full((16, longest), pad_id, dtype=torch.long)
        labels = torch.full((16, longest), -100, dtype=torch.long)
        for row, i in enumerate(picks):
            ids[row, : len(sequences[i])] = torch.tensor(sequences[i])
            labels[row, starts[i] : len(sequences[i])] = torch.tensor(sequences[i][starts[i] :])
        loss = model(input_ids=ids.to(device), labels=labels.to(device), use_cache=False).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def matmul_gflops(device: str, size: int = 2048, repeats: int = 10) -> float:
    """Measured float32 matmul rate on `device` (GFLOP/s)."""
    import torch

    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    for _ in range(3):
        a @ b
    _sync(device)
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


# -- lm-eval side ------------------------------------------------------------------------------


def write_lm_eval_task(
    case: Case, prompts: list[Prompt], regex: str | None, max_new: int, folder: Path, eos: str
) -> str:
    """A local JSONL of our prompts and a YAML task over it; returns the task name."""
    name = f"emergence_bench_{case.name}"
    data = folder / f"{name}.jsonl"
    with data.open("w", encoding="utf-8") as handle:
        for prompt in prompts:
            record: dict[str, Any] = {"prompt": prompt.text, "target": prompt.targets[0]}
            if case.kind == "multiple_choice":
                record["choices"] = list(prompt.choices)
                record["gold"] = prompt.choices.index(prompt.targets[0])
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    lines = [
        f"task: {name}",
        "dataset_path: json",
        "dataset_kwargs:",
        "  data_files:",
        f"    test: {json.dumps(str(data))}",
        "test_split: test",
        "doc_to_text: prompt",  # a field name: lm-eval returns the field verbatim
        "num_fewshot: 0",
    ]
    if case.kind == "multiple_choice":
        lines += [
            "output_type: multiple_choice",
            "doc_to_choice: choices",
            "doc_to_target: gold",
            'target_delimiter: ""',
            "metric_list:",
            "  - metric: acc",
            "    aggregation: mean",
            "    higher_is_better: true",
        ]
    else:
        lines += [
            "output_type: generate_until",
            "doc_to_target: target",
            'target_delimiter: ""',
            "generation_kwargs:",
            # Without `until` lm-eval would stop at "\\n\\n"; EOS alone means: the whole budget.
            f"  until: {json.dumps(list(case.until) or [eos])}",
            "  do_sample: false",
            f"  max_gen_toks: {max_new}",
            "filter_list:",
            "  - name: bigbench_regex",
            "    filter:",
            "      - function: regex",
            f"        regex_pattern: {json.dumps(regex)}",
            "        group_select: 0",
            '        fallback: ""',
            "      - function: take_first",
            "metric_list:",
            "  - metric: exact_match",
            "    aggregation: mean",
            "    higher_is_better: true",
        ]
    (folder / f"{name}.yaml").write_text("\n".join(lines) + "\n")
    return name


class TokenMeter:
    """Counts the tokens a model's forward() receives (padding included), on either side."""

    def __init__(self, model: Any) -> None:
        self.tokens = 0
        model.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module, args, kwargs) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None:
            self.tokens += ids.numel()


class TimedLM:
    """Times lm-eval's request methods (model work, excluding task building and metrics)."""

    def __init__(self, lm: Any) -> None:
        self.lm = lm
        self.seconds = 0.0
        self.meter = TokenMeter(lm.model)
        for method in ("loglikelihood", "generate_until"):
            setattr(lm, method, self._wrap(getattr(lm, method)))

    def _wrap(self, original):
        def timed(requests, *args, **kwargs):
            _sync(str(self.lm.device))
            started = time.perf_counter()
            responses = original(requests, *args, **kwargs)
            _sync(str(self.lm.device))
            self.seconds += time.perf_counter() - started
            return responses

        return timed


def run_lm_eval(
    lm: TimedLM, task_name: str, folder: Path, batch_size: int, limit: int | None = None
):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    lm.seconds, lm.meter.tokens = 0.0, 0
    # simple_evaluate ignores `batch_size` for a model object: set it on the object.
    lm.lm.batch_size_per_gpu = batch_size
    started = time.perf_counter()
    output = simple_evaluate(
        model=lm.lm,
        tasks=[task_name],
        task_manager=TaskManager(include_path=str(folder)),
        batch_size=batch_size,
        log_samples=True,
        bootstrap_iters=0,
        limit=limit,
        verbosity="ERROR",
    )
    total = time.perf_counter() - started
    return output, total


# -- one case ----------------------------------------------------------------------------------


def run_case(
    case: Case,
    args,
    loaded,
    meter: TokenMeter,
    lm: TimedLM,
    folder: Path,
    batch_sizes: list[int],
    max_new: int,
) -> dict[str, Any]:
    task = load_task(case.task_id)
    indices = select_examples(task, case.limit, 0)
    prompts = build_prompts(task, args.shots, seed=0, indices=indices)
    task_name = write_lm_eval_task(
        case, prompts, task.output_regex, max_new, folder, loaded.tokenizer.eos_token
    )
    engine_options: dict[str, Any] = dict(
        shots=args.shots,
        limit=case.limit,
        tokenization="lm_eval",
        model=loaded,
        use_cache=False,
        token_budget=args.token_budget,
    )
    # The engine computes every metric of the task by default (arithmetic: exact match and
    # multiple choice). lm-eval's generative task computes exact match only, so the engine also
    # runs with metrics=["exact_str_match"]: the like-for-like figure.
    variants = {"all_metrics": {}}
    if case.kind == "generate":
        engine_options.update(stop_sequences=list(case.until), max_new_tokens=max_new)
        variants["exact_match_only"] = {"metrics": ["exact_str_match"]}

    # Warm-up on a few examples (first-call allocations and kernel selection are not measured).
    evaluate(loaded.spec, case.task_id, **{**engine_options, "limit": 4})
    run_lm_eval(lm, task_name, folder, batch_sizes[0], limit=4)

    engine_runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    engine_results: dict[str, Any] = {}
    lm_runs, lm_output = [], None

    def lm_eval_run(batch_size: int) -> None:
        nonlocal lm_output
        output, total = run_lm_eval(lm, task_name, folder, batch_size)
        lm_output = lm_output or output
        _check_same_responses(lm_output, output, task_name, batch_size)
        lm_runs.append(
            {
                "batch_size": batch_size,
                "seconds": lm.seconds,
                "simple_evaluate_seconds": total,
                "tokens": lm.meter.tokens,
            }
        )

    # lm-eval's batch size: one run of each, the fastest is used from then on. These runs also
    # count towards lm-eval's best time, so lm-eval gets more tries than the engine, never fewer.
    for batch_size in batch_sizes:
        lm_eval_run(batch_size)
    best_batch_size = min(lm_runs, key=lambda r: r["seconds"])["batch_size"]
    for _ in range(args.repeats):
        for name, extra_options in variants.items():
            meter.tokens = 0
            _sync(loaded.device)
            started = time.perf_counter()
            engine_results[name] = evaluate(
                loaded.spec, case.task_id, **engine_options, **extra_options
            )
            _sync(loaded.device)
            engine_runs[name].append(
                {"seconds": time.perf_counter() - started, "tokens": meter.tokens}
            )
        lm_eval_run(best_batch_size)
    assert lm_output is not None
    engine_run = engine_results["all_metrics"]

    samples = sorted(lm_output["samples"][task_name], key=lambda s: s["doc_id"])
    contexts = [_context_of(s) for s in samples]
    same_prompts = contexts == [p.text for p in prompts]
    engine_predictions = engine_run.examples["prediction"].to_list()
    if case.kind == "multiple_choice":
        lm_choice = [_answer_of(s) for s in samples]
        lm_predictions = [p.choices[i] for p, i in zip(prompts, lm_choice, strict=True)]
        lm_logprobs = [[r[0] for r in s["filtered_resps"]] for s in samples]
        gaps = [
            abs(a - b)
            for ours, theirs in zip(
                engine_run.examples["choice_logprobs"].to_list(), lm_logprobs, strict=True
            )
            for a, b in zip(ours, theirs, strict=True)
        ]
        lm_score = 100 * lm_output["results"][task_name]["acc,none"]
        engine_score = engine_run.metric_values["multiple_choice_grade"]
        extra = {"max_abs_logprob_difference": max(gaps)}
    else:
        lm_predictions = [_answer_of(s) for s in samples]
        lm_score = 100 * lm_output["results"][task_name]["exact_match,bigbench_regex"]
        engine_score = engine_run.metric_values["exact_str_match"]
        extra = {
            "engine_answered_from_scoring_pass": engine_run.stats.n_fast_path,
            "engine_decoded": engine_run.stats.n_generated,
        }
    differing = [
        {"example_idx": p.example_idx, "engine": a, "lm_eval": b}
        for p, a, b in zip(prompts, engine_predictions, lm_predictions, strict=True)
        if a != b
    ]
    variants_agree = all(
        run.examples["prediction"].to_list() == engine_predictions
        for run in engine_results.values()
    )
    best_lm = min(lm_runs, key=lambda r: r["seconds"])
    n = len(prompts)
    params = loaded.n_params

    def gflops(run: dict[str, float]) -> float:
        return 2 * params * run["tokens"] / run["seconds"] / 1e9

    engine_figures = {}
    for name, runs in engine_runs.items():
        best = min(runs, key=lambda r: r["seconds"])
        engine_figures[name] = {
            "examples_per_s": n / best["seconds"],
            "speedup": best_lm["seconds"] / best["seconds"],
            "tokens": best["tokens"],
            "model_gflops_per_s": gflops(best),
            "runs_seconds": [r["seconds"] for r in runs],
        }
    return {
        "case": case.name,
        "task_id": case.task_id,
        "kind": case.kind,
        "until": list(case.until),
        "shots": args.shots,
        "n_examples": n,
        "same_prompt_strings": same_prompts,
        "engine_score": engine_score,
        "lm_eval_score": lm_score,
        "n_predictions_differing": len(differing),
        "differing_examples": differing[:20],
        "engine_variants_same_predictions": variants_agree,
        "engine": engine_figures,
        "lm_eval_examples_per_s": n / best_lm["seconds"],
        "lm_eval_simple_evaluate_seconds": best_lm["simple_evaluate_seconds"],
        "lm_eval_tokens": best_lm["tokens"],
        "lm_eval_model_gflops_per_s": gflops(best_lm),
        "lm_eval_best_batch_size": best_lm["batch_size"],
        "lm_eval_runs": lm_runs,
        **extra,
    }


def _check_same_responses(first: Any, other: Any, task_name: str, batch_size: int) -> None:
    """lm-eval's answers must not depend on its batch size (else the fastest run is not comparable).

    Answers: the generated string, or the chosen option (log-likelihoods themselves move by float32
    rounding with the batch shape).
    """

    def responses(output: Any) -> list[Any]:
        samples = sorted(output["samples"][task_name], key=lambda s: s["doc_id"])
        return [_answer_of(s) for s in samples]

    if first is not other and responses(first) != responses(other):
        raise SystemExit(f"lm-eval's responses changed with batch size {batch_size}")


def _answer_of(sample: dict[str, Any]) -> Any:
    """lm-eval's answer for one sample: the chosen option's index, or the filtered generation."""
    responses = sample["filtered_resps"]
    if isinstance(responses, list) and responses and isinstance(responses[0], (list, tuple)):
        return max(range(len(responses)), key=lambda i: responses[i][0])
    return responses[0] if isinstance(responses, list) else responses


def _context_of(sample: dict[str, Any]) -> str:
    """The context string lm-eval sent to the model for one sample (its first request)."""
    arguments = sample["arguments"]
    if isinstance(arguments, dict):  # {"gen_args_0": {"arg_0": context, "arg_1": ...}, ...}
        return next(iter(arguments.values()))["arg_0"]
    return arguments[0][0]


def main() -> int:
    args = parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model_dir = args.model_dir or data_dir() / "bench" / "gpt2-20m"
    model_dir = build_or_reuse_model(model_dir, args.gen_task, args.train_steps, device)
    batch_sizes = args.lm_eval_batch_size or (
        [32, 64, 128] if device.startswith("cuda") else [8, 16, 32]
    )
    unknown = sorted(set(args.cases) - set(CASE_NAMES))
    if unknown:
        raise SystemExit(f"--cases: unknown {unknown}; choose from {list(CASE_NAMES)}")

    from lm_eval.api.registry import get_model

    loaded = load_model(ModelSpec("bench-gpt2-20m", str(model_dir)), device=device, dtype="float32")
    meter = TokenMeter(loaded.model)
    lm = TimedLM(
        get_model("hf")(
            pretrained=str(model_dir), device=device, dtype="float32", batch_size=batch_sizes[0]
        )
    )
    matmul = matmul_gflops(device)
    max_new = args.max_new_tokens or default_max_new_tokens(
        load_task(args.gen_task), PromptTokenizer(loaded.tokenizer, "lm_eval")
    )
    figures: dict[str, Any] = {
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if device.startswith("cuda") else _cpu_name(),
        "torch_threads": torch.get_num_threads(),
        "model_dir": str(model_dir),
        "n_params": loaded.n_params,
        "dtype": "float32",
        "matmul_gflops_per_s": matmul,
        "lm_eval_batch_sizes": batch_sizes,
        "max_new_tokens": max_new,
        "max_new_tokens_is_engine_default": args.max_new_tokens is None,
        "cases": [],
    }
    cases = [
        Case("mc", args.mc_task, "multiple_choice", args.mc_limit),
        # BIG-bench semantics: the answer is the regex's first match in the whole generation.
        Case("gen_bigbench", args.gen_task, "generate", args.gen_limit),
        # Both sides also stop at the first newline (lm-eval `until`; the engine's stop_sequences).
        Case("gen_until_newline", args.gen_task, "generate", args.gen_limit, until=("\n",)),
    ]
    with tempfile.TemporaryDirectory() as folder:
        for case in cases:
            if case.name in args.cases:
                figures["cases"].append(
                    run_case(case, args, loaded, meter, lm, Path(folder), batch_sizes, max_new)
                )

    print(
        f"device {figures['device_name']} ({device}), {torch.get_num_threads()} threads; model "
        f"{loaded.n_params / 1e6:.1f}M params, float32; matmul {matmul:.1f} GFLOP/s; generation "
        f"limit {max_new} new tokens"
        f"{' (the engine default for the task)' if args.max_new_tokens is None else ''}; "
        f"lm-eval batch sizes {batch_sizes}"
    )
    for case in figures["cases"]:
        until = f"  until {case['until']!r}" if case["until"] else ""
        print(
            f"\n{case['case']}: {case['task_id']} {case['shots']}-shot, {case['n_examples']} "
            f"examples{until}  (same prompt strings: {case['same_prompt_strings']})"
        )
        print(
            f"  score            engine {case['engine_score']:.2f}   lm-eval "
            f"{case['lm_eval_score']:.2f}   predictions differing: {case['n_predictions_differing']}"
        )
        print(
            f"  lm-eval          {case['lm_eval_examples_per_s']:8.2f} examples/s   "
            f"{case['lm_eval_model_gflops_per_s']:6.1f} GFLOP/s ({case['lm_eval_tokens']} tokens, "
            f"batch size {case['lm_eval_best_batch_size']})"
        )
        for name, engine in case["engine"].items():
            print(
                f"  engine {name:<17}{engine['examples_per_s']:6.2f} examples/s   "
                f"{engine['model_gflops_per_s']:6.1f} GFLOP/s ({engine['tokens']} tokens)   "
                f"ratio {engine['speedup']:.2f}x"
            )
        if "max_abs_logprob_difference" in case:
            print(
                f"  max |log-prob difference| per option: {case['max_abs_logprob_difference']:.2e}"
            )
        if "engine_decoded" in case:
            print(
                f"  engine: {case['engine_answered_from_scoring_pass']} answered from the scoring "
                f"pass, {case['engine_decoded']} decoded"
            )
    print(
        f"\nmatmul (float32, {device}): {matmul:.1f} GFLOP/s; model FLOP/s = 2 x params x tokens/s"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
        print(f"\nwrote {args.out}")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"


if __name__ == "__main__":
    sys.exit(main())
