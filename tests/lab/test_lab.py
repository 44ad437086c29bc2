"""The emergence lab: config validation, the corpus overlap check, determinism, and a tiny ladder
through the whole path (train -> register -> evaluate -> warehouse -> emergence row)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from checks.validation import ValidationError
from sources.lab.config import LadderConfig, read_ladder
from sources.lab.corpus import CorpusOverlapError, check_no_overlap, generate_corpus

TINY = Path(__file__).with_name("tiny.yaml")


def _ladder_file(tmp_path: Path, **changes) -> Path:
    raw = yaml.safe_load(TINY.read_text())
    for dotted, value in changes.items():
        node = raw
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value
    path = tmp_path / "ladder.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_shipped_ladders_are_valid_and_the_default_spans_30x(data_dir):
    from sources.lab.train import build_model, count_params

    default, gpu = read_ladder("default"), read_ladder("gpu")
    assert gpu.device == "auto" and gpu.dtype == "bfloat16"
    assert len(default.sizes) >= 6
    counts = [count_params(build_model(default, s, default.vocab_size, 0)) for s in default.sizes]
    assert counts == sorted(counts) and counts[-1] / counts[0] >= 30


def test_a_bad_field_is_named_with_its_file_and_line(tmp_path):
    path = _ladder_file(tmp_path, **{"sizes.1.width": 15, "training.tokens": "many"})
    with pytest.raises(ValidationError) as error:
        read_ladder(path)
    text = str(error.value)
    assert "2 problem(s)" in text
    lines = path.read_text().splitlines()
    size_line = next(i for i, line in enumerate(lines, 1) if "name: b" in line)
    assert f"ladder.yaml, line {size_line}, field 'sizes.1'" in text  # where the size starts
    assert "width 15 is not a multiple of heads 2" in text
    assert "field 'training.tokens': found 'many'" in text


def test_an_unknown_field_is_refused(tmp_path):
    path = _ladder_file(tmp_path, **{"training.epochs": 3})
    with pytest.raises(
        ValidationError, match="field 'training.epochs': found an undocumented field"
    ):
        read_ladder(path)


def test_the_corpus_has_no_evaluation_question_and_a_planted_one_fails_loudly(mirror):
    config = read_ladder(TINY)
    corpus = generate_corpus(config.data, config.seed)
    report = check_no_overlap(corpus.train + corpus.held_out, config.data.exclude_tasks)
    assert report["overlaps"] == 0 and report["corpus_questions"] > 300
    assert report["evaluation_questions"] == 1000 and corpus.excluded_questions == 1000
    planted = "\nQ: What is 80 plus 29?\n  choice: 109\nA: 109"  # example 0 of the task file
    with pytest.raises(
        CorpusOverlapError, match="contains 1 evaluation question.*What is 80 plus 29"
    ):
        check_no_overlap([*corpus.train, planted], config.data.exclude_tasks)


def test_a_curriculum_draws_each_digits_entry_by_its_weight(mirror):
    import re

    config = read_ladder(TINY)
    recipe = config.data.model_copy(
        update={"digits": (1, 2), "digits_weights": (0.3, 0.7), "documents": 2000}
    )
    corpus = generate_corpus(recipe, config.seed)
    operands = [
        (int(a), int(b))
        for doc in corpus.train
        for a, b in re.findall(r"Q: What is (\d+) plus (\d+)\?", doc)
    ]
    one_digit = sum(a < 10 and b < 10 for a, b in operands) / len(operands)
    # 30 % drawn as one-digit sums, plus the 1 % of two-digit draws that happen to be one-digit
    assert 0.27 < one_digit < 0.34 and len(operands) > 3000
    held = {q for doc in corpus.held_out for q in re.findall(r"Q: (What is [^?]+\?)", doc)}
    train = {q for doc in corpus.train for q in re.findall(r"Q: (What is [^?]+\?)", doc)}
    assert held and not held & {q for q in train if int(q.split()[2]) >= 10}  # disjoint 2-digit
    uniform = generate_corpus(recipe.model_copy(update={"digits_weights": None}), config.seed)
    assert uniform.train != corpus.train


def test_curriculum_problems_are_named(tmp_path, mirror):
    path = _ladder_file(tmp_path, **{"data.digits": [1, 2], "data.digits_weights": [1.0]})
    with pytest.raises(ValidationError, match=r"digits_weights \[1.0\] must be one non-negative"):
        read_ladder(path)
    config = read_ladder(TINY)
    everything_excluded = config.data.model_copy(
        update={
            "digits": (1,),
            "digits_weights": (1.0,),
            "exclude_tasks": ("arithmetic/1_digit_addition",),
        }
    )
    with pytest.raises(ValueError, match="digits 1: 0 problem.*arithmetic/1_digit_addition"):
        generate_corpus(everything_excluded, config.seed)


def test_same_seed_same_weights_and_another_seed_differs(data_dir, mirror):
    from sources.lab.ladder import train

    config = read_ladder(TINY)
    first = train(config, "a", show_progress=False)
    shutil.rmtree(Path(first["final_weights"]).parent)
    again = train(config, "a", show_progress=False)
    assert not again["cache_hit"]
    assert [c["weights_sha256"] for c in again["checkpoints"]] == [
        c["weights_sha256"] for c in first["checkpoints"]
    ]
    assert again["loss_curve"] == first["loss_curve"]
    other = train(config.model_copy(update={"seed": 1}), "a", show_progress=False)
    assert other["checkpoints"][-1]["weights_sha256"] != first["checkpoints"][-1]["weights_sha256"]


def test_two_worker_processes_give_the_weights_of_one_process(data_dir, mirror):
    """`make lab` trains sizes in parallel processes: the weights must not depend on that."""
    from sources.lab.ladder import train
    from sources.lab.workers import largest_first, run_sizes

    config = read_ladder(TINY)
    assert largest_first(config, ["a", "c", "b"]) == ["c", "b", "a"]
    parallel = {m["model_id"]: m for m, _, _ in run_sizes(config, ["a", "b"], jobs=2)}
    assert len(parallel) == 2 and not any(m["cache_hit"] for m in parallel.values())
    for manifest in parallel.values():
        shutil.rmtree(Path(manifest["final_weights"]).parent)
    for size in ("a", "b"):
        alone = train(config, size, show_progress=False)
        assert not alone["cache_hit"]
        assert [c["weights_sha256"] for c in alone["checkpoints"]] == [
            c["weights_sha256"] for c in parallel[config.model_id(size)]["checkpoints"]
        ]


def test_checkpoint_keys_name_the_kept_checkpoints(data_dir, mirror):
    from sources.lab.ladder import checkpoint_of, train

    config = read_ladder(TINY)
    assert config.checkpoint_keys == ["50pct", "100pct"]
    manifest = train(config, "a", show_progress=False)
    assert [checkpoint_of(config, manifest, k)["step"] for k in config.checkpoint_keys] == [3, 6]
    assert checkpoint_of(config, manifest, "100pct")["final"]
    with pytest.raises(
        KeyError, match="keeps no checkpoint '25pct'; kept: \\['50pct', '100pct'\\]"
    ):
        checkpoint_of(config, manifest, "25pct")


@pytest.fixture
def warehouse(lake_run, data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "emergence.duckdb"
    shutil.copy(lake_run["data"] / "emergence.duckdb", db)
    return db


def _run_ladder(config: LadderConfig, db: Path) -> list[dict]:
    from sources.lab.ladder import evaluate_size, model_row, train, write_size

    manifests = []
    with duckdb.connect(str(db)) as con:
        for size in config.size_names:
            manifest = train(config, size, show_progress=False)
            results, examples = evaluate_size(config, manifest)
            write_size(con, model_row(config, manifest, "tests/lab/tiny.yaml"), results, examples)
            manifests.append(manifest)
    return manifests


def test_tiny_ladder_end_to_end_and_a_changed_recipe_is_a_new_series(warehouse):
    from sources.lab.ladder import lab_emergence, train

    config = read_ladder(TINY)
    manifests = _run_ladder(config, warehouse)
    assert train(config, "b", show_progress=False)["cache_hit"]  # no retraining
    with duckdb.connect(str(warehouse)) as con:
        models = con.execute(
            "SELECT model_id, params, train_tokens, train_flops, flops_basis, origin, weights "
            "FROM models WHERE family = ? ORDER BY params",
            [config.family],
        ).fetchall()
        assert [m[0] for m in models] == [config.model_id(s) for s in ("a", "b", "c")]
        for (_model_id, params, tokens, flops, basis, origin, weights), manifest in zip(
            models, manifests, strict=True
        ):
            assert (params, tokens, basis, origin) == (
                manifest["params"],
                6144.0,
                "counted_6nd",
                "lab",
            )
            assert flops == 6 * params * tokens and Path(weights).is_dir()
        rows = con.execute(
            "SELECT shots, metric, final_checkpoint, count(*), min(n_examples) FROM results "
            "WHERE origin = 'lab' AND location LIKE ? GROUP BY ALL ORDER BY ALL",
            [f"ladder {config.family} %"],
        ).fetchall()
        assert (0, "exact_str_match", True, 3, 6) in rows  # 0-shot, every size, 6 examples
        assert (2, "target_cross_entropy", False, 3, 6) in rows  # the mid-training checkpoints
        examples = con.execute(
            "SELECT count(*) FROM eval_examples WHERE model_id LIKE ?", [f"{config.family}/%"]
        ).fetchone()[0]
        assert examples == 3 * 2 * 2 * 6  # sizes x checkpoints x shots x examples
        emergence = lab_emergence(con, config.family)
    series = emergence.filter(emergence["metric"] == "exact_str_match")
    assert set(series["shots"].to_list()) == {0, 2}
    assert set(series["origin"].to_list()) == {"lab"} and series["n_models"].to_list() == [3, 3]
    assert set(series["classification"].to_list()) <= {
        "emergent",
        "smooth",
        "never_above_random",
    }
    _charts_show_the_ladder_beside_published_families(config, manifests, warehouse)

    changed = config.model_copy(
        update={"training": config.training.model_copy(update={"learning_rate": 1e-3})}
    )
    assert changed.family != config.family
    _run_ladder(changed.model_copy(update={"sizes": config.sizes[:1]}), warehouse)
    with duckdb.connect(str(warehouse)) as con:
        families = con.execute(
            "SELECT family, count(*) FROM models WHERE origin = 'lab' GROUP BY 1 ORDER BY 2"
        ).fetchall()
    assert families == [(changed.family, 1), (config.family, 3)]  # the old series is kept


def _charts_show_the_ladder_beside_published_families(config, manifests, warehouse) -> None:
    from marts.lab_charts import lab_chart_frames, lab_charts, published_curves

    with duckdb.connect(str(warehouse), read_only=True) as con:
        results = con.execute(
            "SELECT * FROM results_with_scale WHERE family = ?", [config.family]
        ).pl()
        published = published_curves(con, list(config.evaluation.tasks))
    frames = lab_chart_frames(results, manifests, published)
    # the shared lake holds ObsScaling's 2-shot exact match on the same BIG-bench task
    assert frames["published"].height > 0
    assert config.family not in set(frames["published"]["family"].to_list())
    assert set(frames["published"]["task_id"].to_list()) == {"arithmetic/2_digit_addition"}
    spec = lab_charts(results, manifests, published)["accuracy_vs_flops"].to_dict()
    families = {row.get("family") for data in spec["datasets"].values() for row in data}
    assert families >= set(frames["published"]["family"].to_list())  # drawn, not only queried


def test_two_sizes_with_the_same_weights_share_their_evaluation_runs(warehouse):
    """Eval runs are keyed by weights digest, not model: a size renamed within a family (same
    spec, so the same weights) must not collide with the old name's example rows."""
    from sources.lab.config import SizeSpec

    config = read_ladder(TINY)
    twin = SizeSpec(name="a-twin", layers=1, width=8, heads=2)
    config = config.model_copy(update={"sizes": (config.sizes[0], twin)})
    first, second = _run_ladder(config, warehouse)
    assert first["checkpoints"][-1]["weights_sha256"] == second["checkpoints"][-1]["weights_sha256"]
    with duckdb.connect(str(warehouse)) as con:
        examples = con.execute(
            "SELECT model_id, count(*) FROM eval_examples WHERE model_id LIKE ? GROUP BY 1",
            [f"{config.family}/%"],
        ).fetchall()
        results = con.execute(
            "SELECT count(DISTINCT model_id) FROM results WHERE model_id LIKE ?",
            [f"{config.family}/%"],
        ).fetchone()[0]
    assert examples == [(config.model_id("a-twin"), 2 * 2 * 6)] and results == 2


def test_bad_rows_write_nothing(warehouse, mirror):
    import polars as pl

    from sources.lab.ladder import evaluate_size, model_row, train, write_size

    config = read_ladder(TINY)
    manifest = train(config, "a", show_progress=False)
    results, examples = evaluate_size(config, manifest)
    models = model_row(config, manifest, "tests/lab/tiny.yaml").with_columns(
        pl.lit(10.0).alias("params")
    )
    with duckdb.connect(str(warehouse)) as con, pytest.raises(ValidationError, match="params"):
        write_size(con, models, results, examples)
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute("SELECT count(*) FROM models WHERE origin = 'lab'").fetchone()[0] == 0


def test_a_ladder_size_and_its_checkpoints_materialise_in_dagster(warehouse, monkeypatch, tmp_path):
    """The Dagster path: a size (partition of lab_model), then each of its checkpoints
    (partitions size x checkpoint of lab_evaluation -> lab_results), one at a time."""
    import importlib

    import dagster as dg

    import assets.lab
    from assets.resources import Warehouse

    monkeypatch.setenv("EMERGENCE_LADDER", str(TINY))
    lab = importlib.reload(assets.lab)
    config = read_ladder(TINY)
    resources = {
        "warehouse": Warehouse(),
        "io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path)),
    }
    instance = dg.DagsterInstance.ephemeral()

    def rows() -> list[tuple]:
        with duckdb.connect(str(warehouse)) as con:
            return con.execute(
                "SELECT DISTINCT origin, checkpoint_step, final_checkpoint FROM results "
                "WHERE model_id = ? ORDER BY 2",
                [config.model_id("b")],
            ).fetchall()

    def checkpoint(key: str) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            lab.LAB_ASSETS,
            selection=[lab.lab_evaluation, lab.lab_results],
            partition_key=dg.MultiPartitionKey({"size": "b", "checkpoint": key}),
            resources=resources,
            instance=instance,
        )

    try:
        assert lab.lab_sizes.get_partition_keys() == ["a", "b", "c"]
        assert len(lab.lab_checkpoints.get_partition_keys()) == 3 * 2
        trained = dg.materialize(
            [lab.lab_model], partition_key="b", resources=resources, instance=instance
        )
        metadata = trained.asset_materializations_for_node("lab_model")[0].metadata
        assert metadata["corpus_overlaps"].value == 0 and metadata["cache_hit"].value is False

        assert checkpoint("100pct").success
        assert rows() == [("lab", 6, True)]  # 6144 tokens / (8 x 128) = 6 steps; 50%: step 3
        assert checkpoint("50pct").success
        assert rows() == [("lab", 3, False), ("lab", 6, True)]
        again = checkpoint("100pct")  # the final checkpoint again: the 50% rows are kept
        assert again.success and len(rows()) == 2
        with duckdb.connect(str(warehouse)) as con:
            examples = con.execute(
                "SELECT count(*), count(DISTINCT run_id) FROM eval_examples WHERE model_id = ?",
                [config.model_id("b")],
            ).fetchone()
        assert examples == (2 * 2 * 6, 2 * 2)  # checkpoints x shots x examples; runs
        retrained = dg.materialize(
            [lab.lab_model], partition_key="b", resources=resources, instance=instance
        )
        assert retrained.asset_materializations_for_node("lab_model")[0].metadata["cache_hit"].value
    finally:
        monkeypatch.delenv("EMERGENCE_LADDER")
        importlib.reload(assets.lab)


def test_the_probe_trains_one_changed_size_and_scores_each_checkpoint(data_dir, mirror, capsys):
    from sources.lab.probe import main

    argv = ["--ladder", str(TINY), "--architecture", "llama", "--layers", "1", "--width", "8"]
    argv += ["--heads", "2", "--tokens", "4096", "--checkpoints", "0.5,1.0"]
    assert main([*argv, "--digits-weights", "0.5,0.5"]) == 0
    out = capsys.readouterr().out.splitlines()
    lines = [line for line in out if " tokens: exact match" in line]
    assert [line.split(" tokens:")[0].strip() for line in lines] == ["2,048", "4,096"]
    assert all("p(answer digit 1, 2, 3)" in line for line in lines)
    assert out[-1].startswith("llama 1x8:") and "cache hit: False" in out[-1]
    assert (data_dir / "lab").is_dir()
