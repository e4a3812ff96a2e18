-- Metric observations: what each metric family observes (one row per deployed
-- commit, merged pull request, resolved incident, CI run…), computed from events
-- (read with FINAL) by Metrics.Refresh, so that dashboards read small tables
-- without FINAL. Every refresh writes a new generation (its own partition);
-- reads use the newest generation of their configuration and old ones are dropped.
CREATE TABLE IF NOT EXISTS metric_observations (
    gen     UInt64,
    family  String,
    scope   String,
    t       DateTime,
    v1      Float64,
    v2      Float64,
    v3      Float64,
    v4      Float64,
    label   String
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY (gen, family, t, scope);

-- metric_generations: one row per finished refresh; config is a hash of the
-- metric configuration (production environments, failure window).
CREATE TABLE IF NOT EXISTS metric_generations (
    config    String,
    gen       UInt64,
    at        DateTime,
    rows      UInt64
) ENGINE = MergeTree
ORDER BY (config, gen);
