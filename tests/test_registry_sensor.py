"""The model registry and the sensor that turns new entries into evaluation runs."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from assets.evaluations import new_models
from checks.validation import ValidationError
from sources.registry import read_registry, registry_model_rows

ENTRY = "  - {{id: tiny-{name}, family: Tiny, weights: /models/tiny-{name}, revision: {rev}, train_tokens: 1.0e+9, source: test registry}}\n"


def write_registry(path: Path, entries: list[tuple[str, str]]) -> None:
    path.write_text("models:\n" + "".join(ENTRY.format(name=n, rev=r) for n, r in entries))


@pytest.fixture
def registry_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "models.yaml"
    monkeypatch.setenv("EMERGENCE_REGISTRY", str(path))
    return path


def tick(instance: dg.DagsterInstance, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = new_models(context)
    return result, context.cursor


def test_shipped_registry_is_valid_and_has_pythia_and_gpt2():
    registry = read_registry()
    families = set(registry["family"])
    assert {"Pythia", "GPT-2"} <= families
    assert registry.filter(registry["family"] == "Pythia").height == 8
    assert not any(registry["trust_remote_code"])


def test_add_evaluate_bump_requests_exactly_what_is_new(registry_file):
    instance = dg.DagsterInstance.ephemeral()
    write_registry(registry_file, [("a", "main")])
    result, cursor = tick(instance, None)
    assert [r.partition_key for r in result.run_requests] == ["tiny-a"]
    assert result.dynamic_partitions_requests[0].partition_keys == ["tiny-a"]

    # evaluated (or at least requested) at this revision: nothing new
    result, cursor = tick(instance, cursor)
    assert isinstance(result, dg.SkipReason)

    # a second model arrives: only it is requested
    write_registry(registry_file, [("a", "main"), ("b", "main")])
    result, cursor = tick(instance, cursor)
    assert [r.partition_key for r in result.run_requests] == ["tiny-b"]

    # bump a's revision: one new request, for a
    write_registry(registry_file, [("a", "v2"), ("b", "main")])
    result, cursor = tick(instance, cursor)
    assert [(r.partition_key, r.run_key) for r in result.run_requests] == [("tiny-a", "tiny-a@v2")]


def test_invalid_registry_requests_nothing_and_says_why(registry_file):
    registry_file.write_text(
        "models:\n  - {id: x, family: X, weights: /m, params: -5, source: t}\n"
    )
    result, _ = tick(dg.DagsterInstance.ephemeral(), None)
    assert isinstance(result, dg.SkipReason)
    assert "params" in result.skip_message and "row 2" in result.skip_message


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (
            "{id: x, family: X, weights: /m, params: lots, source: test}",
            "column 'params': found 'lots'; expected a number",
        ),
        (
            "{id: x, family: X, weights: /m, source: test, colour: red}",
            "column 'colour': found an undocumented field",
        ),
        ("{id: 'bad id', family: X, weights: /m, source: test}", "column 'id'"),
        ("{id: x, family: X, weights: /m, train_tokens: 5, source: test}", "column 'train_tokens'"),
        ("{id: x, family: X, source: test}", "column 'weights'"),
    ],
)
def test_bad_registry_entries_are_named_by_line_and_field(registry_file, entry, fragment):
    registry_file.write_text(f"models:\n  - {entry}\n")
    with pytest.raises(ValidationError) as error:
        read_registry()
    assert "row 2" in str(error.value) and fragment in str(error.value)


def test_flops_are_estimated_from_counted_params_and_flagged():
    registry = read_registry()
    rows = registry_model_rows(registry, {"pythia-70m-deduped": 7.0e7})
    pythia = rows.filter(rows["model_id"] == "pythia-70m-deduped").row(0, named=True)
    assert pythia["flops_basis"] == "estimated_6nd"
    assert pythia["train_flops"] == pytest.approx(6 * 7.0e7 * 3.0e11)
    gpt2 = rows.filter(rows["model_id"] == "gpt2").row(0, named=True)
    assert gpt2["flops_basis"] == "missing" and gpt2["train_flops"] is None
