-- metric_coverage: per generation, the first observation of each family in
-- each scope, written by the refresh that writes the observations. A page's
-- comparison with an earlier period asks when its subject's data starts
-- (Metrics.Coverage); reading it from metric_observations scanned every
-- observation of the generation (2 s a page at 10M events).
CREATE TABLE IF NOT EXISTS metric_coverage (
    gen    UInt64,
    family String,
    scope  String,
    first  DateTime
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY (gen, scope, family);
