-- metric_slices: each incremental refresh's chains of time slices, per
-- family: generation sgen holds the family's current observations from cut
-- to the next slice's cut (store/slices.go). It replaces metric_overrides,
-- which mapped recomputed (scope, family) pairs to generations: a refresh by
-- key recomputes keys of every scope, and a slice by time is one condition
-- of bound parameters where a map of pairs was a subquery on every read.
CREATE TABLE IF NOT EXISTS metric_slices (
    config String,
    gen    UInt64,
    family String,
    sgen   UInt64,
    cut    DateTime
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY (config, family, cut);

DROP TABLE IF EXISTS metric_overrides;
