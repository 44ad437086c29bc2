"""The registry fields for hub models (`revisions`, `tokens_per_step`, `allow_pickle`): typed as
strictly as the rest, each problem naming its line and field."""

from __future__ import annotations

import pytest

from checks.validation import ValidationError
from sources.registry import read_registry

BASE = "id: m, family: F, source: test registry"


def _read(tmp_path, fields: str):
    path = tmp_path / "models.yaml"
    path.write_text(f"models:\n  - {{{BASE}, {fields}}}\n")
    return read_registry(path)


def test_a_pattern_and_a_list_both_read_as_a_list(tmp_path):
    frame = _read(tmp_path, "weights: org/m, revisions: 'step*', tokens_per_step: 2097152.0")
    assert frame["revisions"].to_list() == [["step*"]]
    assert frame["tokens_per_step"].to_list() == [2097152.0]
    assert frame["allow_pickle"].to_list() == [False]
    listed = _read(tmp_path, "weights: org/m, revisions: [step1000, step2000]")
    assert listed["revisions"].to_list() == [["step1000", "step2000"]]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            "weights: org/m, allow_pickle: 'true'",
            "field 'allow_pickle': found 'true' (text); expected true or false, unquoted",
        ),
        (
            "weights: org/m, revisions: 'step..*'",
            "field 'revisions': found 'step..*', which contains '..'",
        ),
        (
            "weights: org/m, tokens_per_step: 2e6",
            "field 'tokens_per_step': found '2e6' (text); expected a number",
        ),
        (
            "weights: ./nowhere/x/y, revisions: 'step*'",
            "field 'weights'",
        ),
    ],
    ids=["quoted boolean", "bad pattern", "number as text", "local weights"],
)
def test_bad_hub_fields_are_named(tmp_path, fields, expected):
    with pytest.raises(ValidationError) as caught:
        _read(tmp_path, fields)
    assert expected in str(caught.value)
    assert "line 2" in str(caught.value)


def test_checkpoints_need_a_hub_repo(tmp_path):
    model = tmp_path / "local-model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    with pytest.raises(ValidationError) as caught:
        _read(tmp_path, f"weights: '{model}', revisions: 'step*'")
    assert "field 'revisions'" in str(caught.value)
    assert "no checkpoint branches for local weights" in str(caught.value)
