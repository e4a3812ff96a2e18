-- first_deployments: each scope's first successful production deployment,
-- lead time's baseline, as each metric refresh found it, by its generation.
-- A full refresh computes them from every deployment; an incremental one
-- copies its previous refresh's, computing again only the scopes where a
-- touched deployment, in any version, lies at or before the first one (or
-- the scope had none): no other deployment can move it (store/keys.go). Before,
-- every incremental refresh read the first deployments of all scopes with a
-- touched commit or deployment from events with FINAL (at 10M events
-- 0.14–0.43 s, at 100M about ten times that). The newest refreshes keep
-- theirs, as metric_slices (store/metric_refresh.go, dropOldGenerations).
CREATE TABLE IF NOT EXISTS first_deployments (
    gen    UInt64,
    scope  String,
    first  DateTime
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY scope;
