-- deployment_failures: which failure signal (an incident, a rollback) made which
-- production deployment fail, per metric generation, so pages and the API can
-- show the evidence behind the change failure rate. Written by Metrics.Refresh
-- before the change_failure family, which reads it.
CREATE TABLE IF NOT EXISTS deployment_failures (
    gen           UInt64,
    deploy_scope  String,
    deploy_id     String,
    deploy_time   DateTime,
    signal_scope  String,
    signal_type   String,
    signal_id     String,
    signal_time   DateTime,
    basis         String
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY (gen, deploy_scope, deploy_time);

-- ref identifies the thing an observation measures (a deployment, commit, pull
-- request, incident, CI run or ticket), so every figure can list its rows.
ALTER TABLE metric_observations ADD COLUMN ref String DEFAULT '';
