-- Views for the common questions. Recreated on every write; they hold no data of their own.

-- Every result with its model's scale and its metric's random level: the table behind each chart.
CREATE OR REPLACE VIEW results_with_scale AS
SELECT
    r.*,
    m.family,
    m.label AS model_label,
    m.params,
    m.train_tokens,
    m.train_flops,
    m.flops_basis,
    tm.random_level,
    tm.higher_is_better,
    t.name AS task_name,
    t.figure_panel
FROM results r
JOIN models m USING (model_id)
LEFT JOIN task_metrics tm USING (task_id, metric)
LEFT JOIN tasks t USING (task_id);

-- Task x family x metric series the lake finds emergent, with the scale where they emerge.
CREATE OR REPLACE VIEW emergent_abilities AS
SELECT
    e.task_id, t.name AS task_name, e.family, e.shots, e.prompting, e.baseline_prompting,
    e.metric, e.origin, e.emergent_model_id, e.emergent_params, e.emergent_flops,
    e.crossing_flops, e.band_low_flops, e.band_high_flops, e.breakthroughness
FROM emergence e
JOIN tasks t USING (task_id)
WHERE e.classification = 'emergent';

-- Wei et al. Table 1 beside what the lake recomputes from the curves it holds.
CREATE OR REPLACE VIEW table1_comparison AS
SELECT
    t1.row_order, t1.prompting_kind, t1.ability, t1.family, t1.reported_flops, t1.reported_params,
    t1.task_id, e.classification, e.emergent_model_id,
    e.emergent_flops AS computed_flops, e.emergent_params AS computed_params,
    e.agrees_with_reported AS agrees,
    CASE
        WHEN NOT t1.is_numeric THEN 'reported scale is not numeric'
        WHEN t1.task_id IS NULL THEN 'no curve for this ability in the lake'
        WHEN e.task_id IS NULL THEN 'no results for this family on the linked task'
        ELSE e.note
    END AS note
FROM table1 t1
LEFT JOIN emergence e
    ON e.task_id = t1.task_id
   AND e.family = t1.family
   AND e.metric = t1.metric
   AND e.prompting = t1.prompting
   AND e.shots IS NOT DISTINCT FROM t1.shots
   AND e.origin = 'literature'
ORDER BY t1.row_order;

-- What the lake does not know: the gaps a user should see before trusting a chart. One row per
-- gap and item (a task whose metrics lack a random level once, its metrics in `detail`).
CREATE OR REPLACE VIEW missing_data AS
SELECT DISTINCT gap, item, detail FROM (
    SELECT 'model without training FLOPs' AS gap, model_id AS item, family AS detail FROM models WHERE train_flops IS NULL
    UNION ALL
    SELECT 'model without parameter count', model_id, family FROM models WHERE params IS NULL
    UNION ALL
    SELECT 'FLOPs disagree with 6*N*D', model_id, printf('%.2fx', flops_6nd_ratio) FROM models WHERE flops_consistent = false
    UNION ALL
    SELECT 'metric without a random level', task_id, string_agg(metric, ', ' ORDER BY metric) FROM task_metrics WHERE random_level IS NULL GROUP BY task_id
    UNION ALL
    SELECT 'Table 1 ability without a curve', CAST(row_order AS VARCHAR), ability FROM table1 WHERE task_id IS NULL
);
