"""Loading models: local directories and hub ids, one clear error, revisions for cache keys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sources.evaluation.model import ModelLoadError, ModelSpec, load_model, resolve_revision


def test_missing_directory_is_one_clear_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError) as error:
        load_model(ModelSpec("m", str(missing)))
    message = str(error.value)
    assert "\n" not in message and str(missing) in message and "does not exist" in message


def test_directory_without_weights_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="no weight files"):
        resolve_revision(ModelSpec("m", str(tmp_path)))


def test_a_model_that_is_not_a_causal_lm_is_one_clear_line(tmp_path: Path) -> None:
    from transformers import ViTConfig, ViTModel

    ViTModel(
        ViTConfig(
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=16,
            image_size=8,
            patch_size=4,
        )
    ).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError) as error:
        load_model(ModelSpec("vit", str(tmp_path)))
    assert "\n" not in str(error.value) and "cannot load" in str(error.value)


def test_hub_id_offline_and_not_cached_is_one_clear_line(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    spec = ModelSpec("pythia", "EleutherAI/pythia-14m")
    assert not spec.is_local
    with pytest.raises(ModelLoadError) as error:
        resolve_revision(spec)
    assert "\n" not in str(error.value) and "EleutherAI/pythia-14m" in str(error.value)


def test_a_commit_revision_is_used_as_is() -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert resolve_revision(ModelSpec("m", "org/model", revision=commit)) == commit


@pytest.mark.slow
def test_local_revision_follows_file_contents(random_llama_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "llama"
    shutil.copytree(random_llama_dir, copy)
    spec = ModelSpec("m", str(copy))
    first = resolve_revision(spec)
    assert first.startswith("sha256:") and resolve_revision(spec) == first
    config = json.loads((copy / "config.json").read_text())
    config["rms_norm_eps"] = 1e-5
    (copy / "config.json").write_text(json.dumps(config))
    assert resolve_revision(spec) != first


@pytest.mark.slow
def test_remote_code_is_trusted_only_when_the_spec_says_so(
    random_llama_dir: Path, monkeypatch
) -> None:
    import transformers

    seen: list[bool] = []
    original = transformers.AutoModelForCausalLM.from_pretrained

    def spy(*args, **kwargs):
        seen.append(kwargs.get("trust_remote_code"))
        return original(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", spy)
    loaded = load_model(ModelSpec("m", str(random_llama_dir)))
    load_model(ModelSpec("m", str(random_llama_dir), trust_remote_code=True))
    assert seen == [False, True]
    assert loaded.device == "cpu" and loaded.dtype == "float32" and loaded.n_params > 0
    assert loaded.eos_token_ids == (loaded.tokenizer.eos_token_id,)
