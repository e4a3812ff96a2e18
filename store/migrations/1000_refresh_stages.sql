-- refresh_stages: what a metric refresh fills once (per generation) and
-- several families read, so that the events behind it are deduplicated
-- (FINAL) once per refresh rather than once per family. Each stage's rows
-- carry its name (stage) and keep its columns in the neutral columns below;
-- the stages in store/metrics.go say which and read them back under their
-- own names:
--   pull_requests:   each pull request folded from its change.* events
--                    (pr_cycle and pr_review): ref = pr, n1 = opened,
--                    t1 = merged, t2 = reviewed, size;
--   merged_changes:  each merge commit's merge time and first commit time
--                    (lead_time and merge_to_deploy): ref = sha, n1 = mt, n2 = fca;
--   shipped_changes: each shipped commit's first production deployment after
--                    the scope's baseline (lead_time and merge_to_deploy):
--                    ref = sha, t1 = t.
-- A refresh drops its partition when it ends; leftovers of an interrupted
-- refresh are dropped with old generations.
CREATE TABLE IF NOT EXISTS refresh_stages (
    gen    UInt64,
    stage  String,
    scope  String,
    ref    String,
    n1     UInt32,
    n2     UInt32,
    t1     DateTime,
    t2     DateTime,
    size   Float64
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY (gen, stage, scope, ref);
