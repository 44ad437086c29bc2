"""What users hit on the real hub, through a real hub server (olah over local git repos):
resolve a revision, download once into the lake's cache, load, evaluate; and each way a repo can
be unusable fails its own partition with one line."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from assets.evaluations import REVISION_TAG, fresh_evaluation, registry_partitions
from sources.evaluation import ModelLoadError, ModelSpec, load_model
from sources.hub import HubError, HubUnavailable, download_snapshot, hub_cache_dir, resolve_commit
from tests.hub.conftest import ORG, write_registry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repos(hub_server, tiny_model_files) -> dict[str, str]:
    """name -> commit of main, for every repo these tests use."""
    created = {
        "tiny-gpt2": hub_server.create("tiny-gpt2", tiny_model_files),
        "no-tokenizer": hub_server.create(
            "no-tokenizer", tiny_model_files, drop=("tokenizer.json", "tokenizer_config.json")
        ),
    }
    # pickle only: the same weights saved as pytorch_model.bin
    import torch
    from safetensors.torch import load_file

    pickled = hub_server.repo_dir("tiny-gpt2").parent / "_pickle-src"
    pickled.mkdir()
    for file in tiny_model_files.iterdir():
        if file.name != "model.safetensors":
            (pickled / file.name).write_bytes(file.read_bytes())
    torch.save(load_file(tiny_model_files / "model.safetensors"), pickled / "pytorch_model.bin")
    created["pickle-only"] = hub_server.create("pickle-only", pickled)
    # a config only the repo's own code can build
    remote = json.loads((tiny_model_files / "config.json").read_text())
    remote.update(model_type="lake_custom_lm", auto_map={"AutoModelForCausalLM": "modeling.Custom"})
    hub_server.create("remote-code", tiny_model_files)
    created["remote-code"] = hub_server.commit(
        "remote-code",
        "custom code",
        {"config.json": json.dumps(remote), "modeling.py": "raise SystemExit('never run')\n"},
    )
    return created


def _evaluate(partition: str, tags: dict | None = None):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(registry_partitions.name, [partition])
    return dg.materialize(
        [fresh_evaluation],
        partition_key=partition,
        instance=instance,
        tags=tags or {},
        raise_on_error=False,
    )


def _failure(result) -> str:
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    return failure.event_specific_data.error.message.strip()


def test_main_resolves_to_its_commit_downloads_once_loads_and_evaluates(
    lake_on_hub, hub_server, repos, tmp_path
):
    repo = f"{ORG}/tiny-gpt2"
    assert resolve_commit(repo, "main") == repos["tiny-gpt2"]
    write_registry(tmp_path / "models.yaml", f"id: tiny, weights: {repo}, revision: main")
    before = hub_server.downloads("tiny-gpt2")

    first = _evaluate("tiny")

    assert first.success, _failure(first)
    output = first.output_for_node("fresh_evaluation")
    assert output["results"]["source_commit"].unique().to_list() == [repos["tiny-gpt2"]]
    assert output["examples"].height == 4
    downloaded = hub_server.downloads("tiny-gpt2") - before
    assert downloaded >= 4  # config, weights, tokenizer files
    snapshot = hub_cache_dir() / f"models--{ORG}--tiny-gpt2" / "snapshots" / repos["tiny-gpt2"]
    assert (snapshot / "model.safetensors").is_file() and str(snapshot).startswith(str(lake_on_hub))

    # the same model again, loaded from scratch: nothing crosses the wire
    after_first = hub_server.downloads("tiny-gpt2")
    loaded = load_model(ModelSpec("tiny", repo, revision=repos["tiny-gpt2"]), device="cpu")
    assert loaded.revision == repos["tiny-gpt2"] and loaded.n_params > 1000
    assert hub_server.downloads("tiny-gpt2") == after_first


def test_downloads_never_go_to_the_users_hub_cache(lake_on_hub, repos):
    from huggingface_hub import constants

    snapshot = download_snapshot(f"{ORG}/tiny-gpt2", repos["tiny-gpt2"])
    assert snapshot.is_relative_to(lake_on_hub / "hub")
    for user_cache in (constants.HF_HUB_CACHE, constants.HF_HOME):
        assert not list(Path(user_cache).glob(f"**/models--{ORG}--*")), user_cache


def test_a_pinned_commit_is_evaluated_at_that_commit(lake_on_hub, hub_server, repos, tmp_path):
    old = repos["tiny-gpt2"]
    newer = hub_server.commit("tiny-gpt2", "a later commit", {"README.md": "newer\n"})
    assert resolve_commit(f"{ORG}/tiny-gpt2", "main") == newer
    write_registry(
        tmp_path / "models.yaml", f"id: pinned, weights: {ORG}/tiny-gpt2, revision: {old}"
    )

    result = _evaluate("pinned")

    assert result.success, _failure(result)
    output = result.output_for_node("fresh_evaluation")
    assert output["results"]["source_commit"].unique().to_list() == [old]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            f"id: ghost, weights: {ORG}/no-such-repo",
            f"ghost: {ORG}/no-such-repo: no such model repository on http://127.0.0.1",
        ),
        (
            f"id: ghost, weights: {ORG}/tiny-gpt2, revision: no-such-branch",
            f"ghost: {ORG}/tiny-gpt2: revision 'no-such-branch' not found on http://127.0.0.1",
        ),
        (
            f"id: ghost, weights: {ORG}/tiny-gpt2, revision: '{'0' * 40}'",
            f"ghost: {ORG}/tiny-gpt2: revision '{'0' * 40}' not found",
        ),
        (f"id: ghost, weights: {ORG}/no-tokenizer", "has no tokenizer"),
        (f"id: ghost, weights: {ORG}/pickle-only", "has only pickle weights (pytorch_model.bin)"),
        (f"id: ghost, weights: {ORG}/remote-code", "needs remote code"),
    ],
    ids=[
        "missing repo",
        "missing revision",
        "missing commit",
        "no tokenizer",
        "pickle only",
        "remote code",
    ],
)
def test_an_unusable_repo_fails_its_own_partition_with_one_line(
    lake_on_hub, repos, tmp_path, entry, expected
):
    write_registry(
        tmp_path / "models.yaml", entry, f"id: fine, weights: {ORG}/tiny-gpt2, revision: main"
    )

    failed = _evaluate("ghost")

    assert not failed.success
    message = _failure(failed)
    assert expected in message and "\n" not in message, message
    assert _evaluate("fine").success  # nothing else breaks


def test_pickle_needs_an_opt_in_and_remote_code_needs_trust(lake_on_hub, repos, tmp_path):
    pickle_dir = download_snapshot(f"{ORG}/pickle-only", repos["pickle-only"], allow_pickle=True)
    assert (pickle_dir / "pytorch_model.bin").is_file()
    with pytest.raises(HubError, match="only pickle weights"):  # the cached copy is not a pass
        download_snapshot(f"{ORG}/pickle-only", repos["pickle-only"])
    loaded = load_model(
        ModelSpec("p", f"{ORG}/pickle-only", revision=repos["pickle-only"], allow_pickle=True),
        device="cpu",
    )
    assert loaded.n_params > 1000
    with pytest.raises(ModelLoadError, match="set `trust_remote_code: true`"):
        load_model(ModelSpec("r", f"{ORG}/remote-code", revision=repos["remote-code"]))
    trusted = download_snapshot(f"{ORG}/remote-code", repos["remote-code"], trust_remote_code=True)
    assert (trusted / "modeling.py").is_file()  # downloaded only when trusted (never imported here)


def test_a_corrupt_download_is_refused(lake_on_hub, hub_server, repos, monkeypatch):
    import sources.hub as hub

    real = hub._list_files

    def lying(repo_id, commit):
        return [
            hub.RepoFile(f.path, f.size, "0" * 40, None) if f.path == "tokenizer.json" else f
            for f in real(repo_id, commit)
        ]

    monkeypatch.setattr(hub, "_list_files", lying)
    with pytest.raises(
        HubError, match=r"file tokenizer.json: git blob sha1 [0-9a-f]{40} does not match"
    ):
        download_snapshot(f"{ORG}/tiny-gpt2", repos["tiny-gpt2"])


def test_offline_answers_from_the_lake_cache_only(lake_on_hub, repos, monkeypatch):
    repo = f"{ORG}/tiny-gpt2"
    commit = resolve_commit(repo, "main")
    download_snapshot(repo, commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    assert resolve_commit(repo, "main") == commit
    assert download_snapshot(repo, commit).is_dir()
    with pytest.raises(HubError, match="HF_HUB_OFFLINE is set"):
        resolve_commit(f"{ORG}/pickle-only", "main")


def test_a_hub_that_is_down_is_unavailable_not_missing(lake_on_hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(HubUnavailable, match="hub http://127.0.0.1:9 unreachable"):
        resolve_commit(f"{ORG}/tiny-gpt2", "main")


def test_a_hub_that_hangs_times_out_as_unavailable(lake_on_hub, monkeypatch):
    import socket

    import sources.hub as hub

    monkeypatch.setattr(hub, "TIMEOUT_SECONDS", 0.5)
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        with pytest.raises(HubUnavailable, match="unreachable"):
            resolve_commit(f"{ORG}/tiny-gpt2", "main")


def test_a_run_tagged_with_a_commit_evaluates_that_commit(lake_on_hub, hub_server, repos, tmp_path):
    write_registry(tmp_path / "models.yaml", f"id: tagged, weights: {ORG}/tiny-gpt2")
    result = _evaluate("tagged", {REVISION_TAG: repos["tiny-gpt2"]})
    assert result.success, _failure(result)
    commits = result.output_for_node("fresh_evaluation")["results"]["source_commit"].unique()
    assert commits.to_list() == [repos["tiny-gpt2"]]
