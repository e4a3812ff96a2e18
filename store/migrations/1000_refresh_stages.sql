-- Refresh stages: per-key tables a metric refresh fills once (per generation)
-- and several families read, so that the events behind them are deduplicated
-- (FINAL) once per refresh rather than once per family. A refresh drops its
-- stage partitions when it ends; leftovers of an interrupted refresh are
-- dropped with old generations.

-- refresh_pull_requests: each pull request folded from its change.* events
-- (pr_cycle and pr_review).
CREATE TABLE IF NOT EXISTS refresh_pull_requests (
    gen      UInt64,
    scope    String,
    pr       String,
    opened   UInt32,
    merged   DateTime,
    reviewed DateTime,
    size     Float64
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY (gen, scope, pr);

-- refresh_merged_changes: each merge commit's merge time and first commit time
-- (lead_time and merge_to_deploy).
CREATE TABLE IF NOT EXISTS refresh_merged_changes (
    gen    UInt64,
    scope  String,
    sha    String,
    mt     UInt32,
    fca    UInt32
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY (gen, scope, sha);

-- refresh_shipped_changes: each shipped commit's first production deployment
-- after the scope's baseline (lead_time and merge_to_deploy).
CREATE TABLE IF NOT EXISTS refresh_shipped_changes (
    gen    UInt64,
    scope  String,
    sha    String,
    t      DateTime
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY (gen, scope, sha);
