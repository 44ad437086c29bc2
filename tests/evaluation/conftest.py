"""Fixtures for the evaluation engine's tests: the BIG-bench mirror and tiny local models.

Tiny models are built here, in the test session (a byte-level BPE tokenizer trained with
`tokenizers`, a GPT-2 or Llama config), saved with save_pretrained and loaded back through the
engine's own `load_model`, exactly like a model from the hub.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sources.bigbench import TASKS_SUBDIR
from sources.paths import PROJECT_ROOT

MIRROR = Path(os.environ.get("EMERGENCE_MIRROR") or PROJECT_ROOT.parent / "shared" / "mirror")
HAVE_MIRROR = (MIRROR / TASKS_SUBDIR).is_dir()
# The trained model's task: 0-shot keeps sequences short enough to train in seconds on a CPU.
TRAINED_TASK = "arithmetic/1_digit_addition"
TRAINED_SHOTS = 0


@pytest.fixture(autouse=True)
def lake_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every test writes under its own data dir and reads BIG-bench from the mirror."""
    data = tmp_path / "data"
    monkeypatch.setenv("EMERGENCE_DATA", str(data))
    # References (transformers' generate) run on the CPU in float32; so does the engine here.
    monkeypatch.setenv("EMERGENCE_DEVICE", "cpu")
    if HAVE_MIRROR:
        monkeypatch.setenv("EMERGENCE_MIRROR", str(MIRROR))
    return data


@pytest.fixture
def mirror() -> Path:
    if not HAVE_MIRROR:
        pytest.skip(f"BIG-bench mirror not found at {MIRROR} (set EMERGENCE_MIRROR)")
    return MIRROR


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    """Tiny models gain nothing from threads, and on a shared 2-core box threads contend."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def session_env(tmp_path_factory: pytest.TempPathFactory):
    if not HAVE_MIRROR:
        pytest.skip(f"BIG-bench mirror not found at {MIRROR} (set EMERGENCE_MIRROR)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMERGENCE_MIRROR", str(MIRROR))
        patch.setenv("EMERGENCE_DATA", str(tmp_path_factory.mktemp("session-data")))
        patch.setenv("EMERGENCE_DEVICE", "cpu")
        yield


@pytest.fixture(scope="session")
def trained_model_dir(session_env, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GPT-2 (2 layers, width 64) trained for ~10 s on 0-shot 1-digit addition (answer loss)."""
    from sources.bigbench import load_task
    from sources.evaluation import toy_models
    from sources.evaluation.prompts import build_prompts
    from sources.evaluation.tokenization import PromptTokenizer

    task = load_task(TRAINED_TASK)
    # Several seeds: the same questions with the options in different orders.
    prompts = [p for seed in range(4) for p in build_prompts(task, TRAINED_SHOTS, seed=100 + seed)]
    tokenizer = toy_models.build_tokenizer([p.text + p.targets[0] for p in prompts], vocab_size=500)
    sequences, answer_starts = toy_models.task_training_sequences(
        prompts, PromptTokenizer(tokenizer), task.few_shot_example_separator
    )
    model = toy_models.build_model(
        "gpt2",
        len(tokenizer),
        layers=2,
        width=64,
        heads=4,
        max_positions=512,
        eos_token_id=tokenizer.eos_token_id,
    )
    toy_models.train(
        model,
        sequences,
        loss_from=answer_starts,
        pad_token_id=tokenizer.pad_token_id,
        steps=120,
        batch_size=32,
        learning_rate=1e-2,
    )
    return toy_models.save(model, tokenizer, tmp_path_factory.mktemp("trained-gpt2"))


@pytest.fixture(scope="session")
def random_llama_dir(session_env, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained Llama (2 layers, width 48) whose tokenizer saw Persian, IPA and English."""
    from sources.bigbench import load_task
    from sources.evaluation import toy_models

    texts = []
    for task_id in (
        "parsinlu_qa",
        "parsinlu_reading_comprehension",
        "international_phonetic_alphabet_transliterate",
        "word_unscrambling",
    ):
        for example in load_task(task_id).examples[:150]:
            texts.append(example.input + " " + " ".join(example.targets + example.choices))
    tokenizer = toy_models.build_tokenizer(texts, vocab_size=700)
    model = toy_models.build_model(
        "llama",
        len(tokenizer),
        layers=2,
        width=48,
        heads=4,
        max_positions=2048,
        eos_token_id=tokenizer.eos_token_id,
        seed=1,
        init_std=0.3,
    )
    return toy_models.save(model, tokenizer, tmp_path_factory.mktemp("random-llama"))
