-- The warehouse: one DuckDB file (data/emergence.duckdb unless EMERGENCE_DUCKDB says otherwise).
-- This file is the contract between the layers: staged frames are validated against the same
-- columns (checks/schemas.py), and every write replaces these tables inside one transaction.
--
-- Units: every metric has ONE unit, declared in task_metrics.unit and copied onto each result row.
--   percent      0..100 (accuracy, exact_str_match, multiple_choice_grade)
--   bleu         0..100 (sacreBLEU corpus score)
--   nats         a (negative) log-probability summed over the target tokens, averaged over examples
--   nats_per_token   mean per-token cross-entropy of the target (>= 0)
--   perplexity   exp(-mean log-likelihood of the target) as lm-evaluation-harness reports it (>= 1, lower is better)

CREATE TABLE IF NOT EXISTS models (
    model_id            VARCHAR PRIMARY KEY, -- 'gpt3-175b', 'palm-540b', or a Hugging Face id 'EleutherAI/pythia-70m-deduped'
    family              VARCHAR NOT NULL,    -- 'GPT-3', 'PaLM', 'Pythia', ...
    label               VARCHAR NOT NULL,    -- as printed by the source, e.g. 'GPT-3 13B'
    params              DOUBLE,              -- parameter count (not billions); NULL when no source states it
    train_tokens        DOUBLE,              -- pre-training tokens; NULL when no source gives it
    train_flops         DOUBLE,              -- training compute; NULL when neither published nor estimable
    flops_basis         VARCHAR NOT NULL,    -- published | printed_by_wei | estimated_6nd | hardware_estimate | missing | counted_6nd (lab)
    flops_printed_by_wei DOUBLE,             -- the value Wei et al. print for this model, where they do
    flops_6nd           DOUBLE,              -- 6 * params * train_tokens where tokens are known
    flops_6nd_ratio     DOUBLE,              -- train_flops / flops_6nd
    flops_consistent    BOOLEAN,             -- ratio within [1/FLOPS_6ND_FACTOR, FLOPS_6ND_FACTOR]; NULL when not checkable
    weights             VARCHAR,             -- Hugging Face id or local path, where the model can be evaluated
    revision            VARCHAR,             -- weights revision (commit) for fresh evaluations
    origin              VARCHAR NOT NULL,    -- literature | obsscaling | registry | lmeval | lab
    source              VARCHAR NOT NULL,    -- citation for the scale numbers (paper + table/section)
    note                VARCHAR
);

CREATE TABLE IF NOT EXISTS tasks (
    task_id             VARCHAR PRIMARY KEY, -- 'mmlu', 'wic', 'gsm8k', 'arithmetic/3_digit_addition', ...
    name                VARCHAR NOT NULL,
    suite               VARCHAR NOT NULL,    -- BIG-bench | MMLU | SuperGLUE | GSM8K | ...
    figure_panel        VARCHAR,             -- 'Fig2G', 'Fig3A', ... (Wei et al. 2022); NULL when not in a figure
    preferred_metric    VARCHAR NOT NULL,
    variant_of          VARCHAR,             -- the paper's task when this is a close variant (arithmetic vs modified_arithmetic)
    description         VARCHAR NOT NULL,
    source              VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS task_metrics (
    task_id             VARCHAR NOT NULL,
    metric              VARCHAR NOT NULL,    -- accuracy | exact_str_match | multiple_choice_grade | bleu | ...
    unit                VARCHAR NOT NULL,    -- percent | bleu | nats | nats_per_token
    higher_is_better    BOOLEAN NOT NULL,
    random_level        DOUBLE,              -- chance level in `unit`; NULL when no source states one
    random_source       VARCHAR,             -- where the random level comes from
    PRIMARY KEY (task_id, metric)
);

CREATE TABLE IF NOT EXISTS results (
    model_id            VARCHAR NOT NULL,
    task_id             VARCHAR NOT NULL,
    shots               INTEGER,             -- in-context examples; NULL when the source does not say
    prompting           VARCHAR NOT NULL,    -- standard | chain_of_thought
    setting             VARCHAR NOT NULL,    -- the setting as printed, e.g. '1-shot', 'few-shot K=32, test set'
    metric              VARCHAR NOT NULL,
    value               DOUBLE NOT NULL,     -- in `unit`
    unit                VARCHAR NOT NULL,
    n_examples          INTEGER,             -- examples behind the value, where known
    origin              VARCHAR NOT NULL,    -- literature | obsscaling | fresh | lmeval | lab
    citation            VARCHAR NOT NULL,    -- paper, or 'emergence-lake engine <version>' for fresh rows
    location            VARCHAR NOT NULL,    -- table/section, or 'run <run_id> config <hash>'
    source_file         VARCHAR NOT NULL,    -- the file (or run) the row was read from
    in_wei_figure       BOOLEAN NOT NULL,    -- the point is part of the series Wei et al. plot
    trust               VARCHAR,             -- literature: how directly the value was read (high | medium | ...)
    note                VARCHAR,
    value_stderr        DOUBLE,              -- standard error of `value` as the source reports it (same unit); NULL when not given
    checkpoint_step     INTEGER,             -- training step of the checkpoint evaluated (lm-eval revision 'step<N>'); NULL = the released model
    tokens_seen         DOUBLE,              -- checkpoint_step x the suite's tokens per step (sources/suites.yaml)
    checkpoint_flops    DOUBLE,              -- training compute at the checkpoint: 6 * params * tokens_seen
    checkpoint_flops_basis VARCHAR,          -- estimated_6nd, or counted_6nd for lab models (N and D counted)
    final_checkpoint    BOOLEAN,             -- false for an intermediate checkpoint: size-axis series keep rows where this IS NOT FALSE
    source_commit       VARCHAR,             -- commit of the upstream repository the file was read at, where pinned
    source_sha256       VARCHAR,             -- sha256 of the source file's bytes
    rescored_from_run   VARCHAR              -- re-scored rows (marts/rescore.py): the evaluation run whose eval_examples they were computed from
    -- key (model_id, task_id, setting, prompting, metric, citation): unique, checked on every
    -- write by warehouse/store.py (check_key), not declared: DuckDB's index on it tripled the cost
);

CREATE TABLE IF NOT EXISTS table1 (
    row_order           INTEGER PRIMARY KEY, -- 1..23 as printed
    prompting_kind      VARCHAR NOT NULL,    -- few-shot | augmented
    ability             VARCHAR NOT NULL,
    is_numeric          BOOLEAN NOT NULL,    -- false for 'Many BIG-Bench tasks'
    reported_flops      DOUBLE,
    reported_params     DOUBLE,
    family              VARCHAR NOT NULL,
    reference           VARCHAR NOT NULL,
    task_id             VARCHAR,             -- the lake's task holding this curve, where it has one
    shots               INTEGER,
    prompting           VARCHAR,
    metric              VARCHAR,
    source              VARCHAR NOT NULL,
    note                VARCHAR
);

-- Fresh evaluations only: enough per example to recompute any metric later.
CREATE TABLE IF NOT EXISTS eval_examples (
    run_id              VARCHAR NOT NULL,
    model_id            VARCHAR NOT NULL,
    task_id             VARCHAR NOT NULL,
    shots               INTEGER NOT NULL,
    example_idx         INTEGER NOT NULL,
    prompt_hash         VARCHAR NOT NULL,
    target              VARCHAR NOT NULL,    -- the gold answer (first target for multi-target examples)
    prediction          VARCHAR NOT NULL,    -- greedy answer, or the chosen option for multiple choice
    correct             BOOLEAN NOT NULL,
    target_logprob      DOUBLE NOT NULL,     -- sum of log p(target token) under teacher forcing, nats
    target_tokens       INTEGER NOT NULL,
    choice_logprobs     DOUBLE[],            -- multiple choice: log p(choice | context) per choice
    truncated           BOOLEAN,             -- the prompt was cut from the left to fit the model's context window
    target_token_logprobs DOUBLE[],          -- log p(target token i | context, earlier target tokens), nats; sums to target_logprob
    end_logprob         DOUBLE,              -- generative: log p(the next token ends the answer | context, target) (sources/evaluation/answer_end.py)
    choice_scores       DOUBLE[],            -- multiple choice: BIG-bench target_scores per option, in choice_logprobs' order
    PRIMARY KEY (run_id, task_id, example_idx)
);

CREATE TABLE IF NOT EXISTS emergence (
    task_id             VARCHAR NOT NULL,
    family              VARCHAR NOT NULL,
    shots               INTEGER,
    prompting           VARCHAR NOT NULL,    -- for augmented prompting: the method compared with `baseline_prompting`
    baseline_prompting  VARCHAR,             -- NULL: compared with the random level
    metric              VARCHAR NOT NULL,
    origin              VARCHAR NOT NULL,
    n_models            INTEGER NOT NULL,
    scale_axis          VARCHAR NOT NULL,    -- train_flops | params (params when a model lacks FLOPs)
    random_level        DOUBLE,
    margin              DOUBLE,              -- how far above random counts as above (same unit)
    classification      VARCHAR NOT NULL,    -- emergent | smooth | never_above_random | too_few_points | no_baseline
    emergent_model_id   VARCHAR,
    emergent_flops      DOUBLE,
    emergent_params     DOUBLE,
    crossing_flops      DOUBLE,              -- interpolated on the log axis
    crossing_params     DOUBLE,
    band_low_flops      DOUBLE,              -- last model not above random
    band_high_flops     DOUBLE,              -- first model that stays above
    band_low_params     DOUBLE,
    band_high_params    DOUBLE,
    trend_prediction    DOUBLE,              -- smooth trend of the smaller models, extrapolated to the emergent model
    breakthroughness    DOUBLE,              -- Srivastava et al. 2022, appendix
    reported_flops      DOUBLE,              -- Wei et al. Table 1, where it reports this task and family
    reported_params     DOUBLE,
    agrees_with_reported BOOLEAN,
    method              VARCHAR NOT NULL,
    note                VARCHAR,
    baseline_shots      INTEGER,             -- augmented prompting: shots of the standard series compared with (the same, else the nearest)
    -- marts/uncertainty.py: the rule rerun on up to 400 binomial resamples of every point (seeded)
    p_emergent          DOUBLE,              -- share of resamples classified emergent
    p_smooth            DOUBLE,
    p_never             DOUBLE,              -- share never above the reference
    p_emergent_model    DOUBLE,              -- share emergent at this row's emergent model
    confidence          DOUBLE,              -- share agreeing with `classification`
    cannot_tell         BOOLEAN,             -- confidence < 0.8
    scale_low           DOUBLE,              -- 5% quantile of the emergent model's scale (scale_axis units) over emergent resamples
    scale_high          DOUBLE,              -- 95% quantile
    -- marts/changepoint.py: flat-then-rising (hinge) fit, compared with the rule
    changepoint_model_id VARCHAR,            -- first model on the rising part
    changepoint_scale   DOUBLE,              -- its scale (scale_axis units)
    changepoint_low     DOUBLE,              -- 5%-95% over the same resamples
    changepoint_high    DOUBLE,
    changepoint_steps_from_rule INTEGER,     -- changepoint's model position minus the rule's emergent model's (emergent rows)
    replicates          INTEGER              -- resamples these shares and ranges rest on (50-400: sequential stopping, marts/uncertainty.py)
);

-- Per series and model: the probability that this model is the first that stays above the reference
-- (models that are first in no resample have no row).
CREATE TABLE IF NOT EXISTS emergence_first_model (
    task_id             VARCHAR NOT NULL,
    family              VARCHAR NOT NULL,
    shots               INTEGER,
    prompting           VARCHAR NOT NULL,
    metric              VARCHAR NOT NULL,
    origin              VARCHAR NOT NULL,
    model_id            VARCHAR NOT NULL,
    position            INTEGER NOT NULL,    -- 0 = smallest model of the series
    scale               DOUBLE NOT NULL,     -- on the series' scale_axis
    p_first             DOUBLE NOT NULL      -- share of resamples in which it is the first model that stays above
);

-- lm-evaluation-harness v0.4 per-sample logs (samples_<task>_<timestamp>.jsonl), kept so a result can
-- be re-scored later. Not eval_examples: the harness logs no target token count and no log-likelihood
-- for generated answers, which eval_examples requires.
CREATE TABLE IF NOT EXISTS lmeval_examples (
    model_id            VARCHAR NOT NULL,
    task_id             VARCHAR NOT NULL,
    shots               INTEGER,
    checkpoint_step     INTEGER,             -- as in results; NULL = the released model
    example_idx         INTEGER NOT NULL,    -- the harness's doc_id
    prompt_hash         VARCHAR,             -- the harness's prompt_hash, where logged
    target              VARCHAR,             -- the gold answer (an option index for multiple choice)
    prediction          VARCHAR,             -- generated text, or the index of the most likely option; NULL for a single scored continuation
    correct             BOOLEAN,             -- the sample's acc / exact_match = 1
    target_logprob      DOUBLE,              -- log-likelihood of the gold continuation, nats, where logged
    choice_logprobs     DOUBLE[],            -- multiple choice: log-likelihood of each option
    results_file        VARCHAR NOT NULL,    -- the results_<timestamp>.json of the same run
    source_file         VARCHAR NOT NULL,    -- the samples file
    source_row          INTEGER NOT NULL,    -- its line
    source_sha256       VARCHAR NOT NULL,
    PRIMARY KEY (results_file, task_id, example_idx)
);

-- marts/backtests.py: every method's prediction for every model of a backtest series (fit on the
-- models up to cutoff_scale, the rest held out).
CREATE TABLE IF NOT EXISTS predictions (
    task_id             VARCHAR NOT NULL,
    family              VARCHAR NOT NULL,
    shots               INTEGER,
    prompting           VARCHAR NOT NULL,
    metric              VARCHAR NOT NULL,
    origin              VARCHAR NOT NULL,
    method              VARCHAR NOT NULL,    -- log_linear | sigmoid | obsscaling_pc | best_so_far
    model_id            VARCHAR NOT NULL,
    position            INTEGER NOT NULL,    -- 0 = smallest model of the series
    scale               DOUBLE NOT NULL,     -- on the series' scale axis (emergence.scale_axis)
    cutoff_scale        DOUBLE NOT NULL,     -- largest scale the method was fitted on
    held_out            BOOLEAN NOT NULL,
    observed            DOUBLE NOT NULL,     -- percent
    predicted           DOUBLE,
    band_low            DOUBLE,              -- predicted ± 2 SE (line: prediction SE; sigmoid, PC: residual SD); NULL for best_so_far
    band_high           DOUBLE
);

-- One row per backtest series and method.
CREATE TABLE IF NOT EXISTS backtests (
    task_id             VARCHAR NOT NULL,
    family              VARCHAR NOT NULL,
    shots               INTEGER,
    prompting           VARCHAR NOT NULL,
    metric              VARCHAR NOT NULL,
    origin              VARCHAR NOT NULL,
    method              VARCHAR NOT NULL,
    cutoff_scale        DOUBLE NOT NULL,
    n_fit               INTEGER NOT NULL,
    n_held_out          INTEGER NOT NULL,
    mae                 DOUBLE,              -- mean absolute error on the held-out models, points
    predicted_emergent_model_id VARCHAR,     -- the rule applied to the predicted values
    observed_emergent_model_id  VARCHAR,     -- emergence.emergent_model_id (emergent series)
    observed_emergence_held_out BOOLEAN,     -- the observed emergent model is above the cutoff
    emergence_steps_off INTEGER              -- predicted minus observed position, in models
);

-- marts/forecasts.py: pre-registered forecasts for registry models not yet evaluated. Rows are only
-- ever added (a forecast is never replaced); grading fills observed / abs_error / graded_on.
CREATE TABLE IF NOT EXISTS forecasts (
    made_on             DATE NOT NULL,       -- when the forecast was made (before the evaluation)
    model_id            VARCHAR NOT NULL,    -- the registry id (fresh results use it)
    task_id             VARCHAR NOT NULL,
    shots               INTEGER,
    prompting           VARCHAR NOT NULL,
    metric              VARCHAR NOT NULL,
    basis_origin        VARCHAR NOT NULL,    -- origin of the series it was fitted on (literature | obsscaling | lmeval)
    method              VARCHAR NOT NULL,    -- log_linear | sigmoid | best_so_far
    family              VARCHAR NOT NULL,
    scale_axis          VARCHAR NOT NULL,
    scale               DOUBLE NOT NULL,     -- the registry model's scale on that axis
    n_fit               INTEGER NOT NULL,    -- smaller models fitted
    predicted           DOUBLE NOT NULL,     -- percent
    band_low            DOUBLE,
    band_high           DOUBLE,
    observed            DOUBLE,              -- the fresh result, once evaluated
    abs_error           DOUBLE,
    graded_on           DATE
);

-- Columns added after a warehouse may already exist: CREATE TABLE IF NOT EXISTS does not add them.
ALTER TABLE results ADD COLUMN IF NOT EXISTS value_stderr DOUBLE;
ALTER TABLE results ADD COLUMN IF NOT EXISTS checkpoint_step INTEGER;
ALTER TABLE results ADD COLUMN IF NOT EXISTS tokens_seen DOUBLE;
ALTER TABLE results ADD COLUMN IF NOT EXISTS checkpoint_flops DOUBLE;
ALTER TABLE results ADD COLUMN IF NOT EXISTS checkpoint_flops_basis VARCHAR;
ALTER TABLE results ADD COLUMN IF NOT EXISTS final_checkpoint BOOLEAN;
ALTER TABLE results ADD COLUMN IF NOT EXISTS source_commit VARCHAR;
ALTER TABLE results ADD COLUMN IF NOT EXISTS source_sha256 VARCHAR;
ALTER TABLE eval_examples ADD COLUMN IF NOT EXISTS truncated BOOLEAN;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS baseline_shots INTEGER;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS p_emergent DOUBLE;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS p_smooth DOUBLE;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS p_never DOUBLE;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS p_emergent_model DOUBLE;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS confidence DOUBLE;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS cannot_tell BOOLEAN;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS scale_low DOUBLE;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS scale_high DOUBLE;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS changepoint_model_id VARCHAR;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS changepoint_scale DOUBLE;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS changepoint_low DOUBLE;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS changepoint_high DOUBLE;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS changepoint_steps_from_rule INTEGER;
ALTER TABLE emergence ADD COLUMN IF NOT EXISTS replicates INTEGER;
ALTER TABLE eval_examples ADD COLUMN IF NOT EXISTS target_token_logprobs DOUBLE[];
ALTER TABLE eval_examples ADD COLUMN IF NOT EXISTS end_logprob DOUBLE;
ALTER TABLE eval_examples ADD COLUMN IF NOT EXISTS choice_scores DOUBLE[];
ALTER TABLE results ADD COLUMN IF NOT EXISTS rescored_from_run VARCHAR;

-- Is it real? Per task x family x shots x origin with per-example data: emergence under the discrete
-- metric and under the continuous re-scored metrics, and a verdict (marts/verdicts.py).
CREATE TABLE IF NOT EXISTS verdicts (
    task_id             VARCHAR NOT NULL,
    family              VARCHAR NOT NULL,
    shots               INTEGER,
    origin              VARCHAR NOT NULL,
    exact_metric        VARCHAR NOT NULL,    -- the discrete metric judged: exact_str_match | multiple_choice_grade | ...
    exact_classification VARCHAR NOT NULL,   -- the detector's classification under it
    emergent_exact      BOOLEAN NOT NULL,
    emergent_continuous BOOLEAN NOT NULL,    -- emergent under at least one continuous metric
    continuous_emergent VARCHAR NOT NULL,    -- comma list of continuous metrics classified emergent
    continuous_smooth   VARCHAR NOT NULL,    -- ... classified smooth
    continuous_undecided VARCHAR NOT NULL,   -- ... no_baseline | too_few_points | never_above_random
    verdict             VARCHAR NOT NULL,    -- persists | metric_artefact | undetermined
    evidence            VARCHAR NOT NULL,    -- why, with each metric's classification
    n_models            INTEGER NOT NULL,
    emergent_model_id   VARCHAR              -- under the discrete metric, where emergent
);
