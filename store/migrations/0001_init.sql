-- The spine's tables. Every statement runs on ClickHouse 18.16 and on current releases.
-- Tables that collectors may write twice are ReplacingMergeTree keyed by source identity:
-- reads use FINAL so results are exact at once, not after background merges.

-- events: one row per (source, type, scope, id). version orders rewrites of the same identity
-- (unix nanoseconds of the write), deleted = 1 is a tombstone for what vanished upstream.
-- Granules of 1024 rows: a scope holds a few thousand events of a type, so reads of some
-- scopes (an incremental metric refresh, a component's recent events) skip the others'
-- rows; with the default 8192 they read most of them. See docs/metrics.md for moving
-- an existing install's events table to it.
CREATE TABLE IF NOT EXISTS events (
    source      String,
    type        String,
    scope       String,
    id          String,
    time        DateTime,
    actor       String,
    num_keys    Array(String),
    num_values  Array(Float64),
    str_keys    Array(String),
    str_values  Array(String),
    related     Array(String),
    version     UInt64,
    deleted     UInt8
) ENGINE = ReplacingMergeTree(version)
ORDER BY (type, scope, source, id)
SETTINGS index_granularity = 1024;

-- facts: the latest value per (scope, source, name); value is JSON text.
CREATE TABLE IF NOT EXISTS facts (
    scope       String,
    source      String,
    name        String,
    value       String,
    observed_at DateTime,
    version     UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (scope, source, name);

-- fact_history: every observation, once per (scope, source, name, observed_at).
CREATE TABLE IF NOT EXISTS fact_history (
    scope       String,
    source      String,
    name        String,
    value       String,
    observed_at DateTime,
    version     UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (scope, source, name, observed_at);

-- entities: the current catalog; deleted = 1 marks entities gone from it.
CREATE TABLE IF NOT EXISTS entities (
    ref           String,
    kind          String,
    namespace     String,
    name          String,
    title         String,
    description   String,
    type          String,
    lifecycle     String,
    owner         String,
    system        String,
    domain        String,
    parent        String,
    children      Array(String),
    members       Array(String),
    member_of     Array(String),
    depends_on    Array(String),
    provides_apis Array(String),
    consumes_apis Array(String),
    tags          Array(String),
    label_keys    Array(String),
    label_values  Array(String),
    annotation_keys   Array(String),
    annotation_values Array(String),
    api_version   String,
    spec          String,
    location      String,
    hash          UInt64,
    version       UInt64,
    deleted       UInt8
) ENGINE = ReplacingMergeTree(version)
ORDER BY ref;

-- entity_history: one row each time an entity appears, changes or is removed.
CREATE TABLE IF NOT EXISTS entity_history (
    ref         String,
    changed_at  DateTime,
    change      String,
    owner       String,
    body        String,
    hash        UInt64
) ENGINE = MergeTree
ORDER BY (ref, changed_at);

-- scope_mappings: which entity owns which source scope, from catalog annotations.
CREATE TABLE IF NOT EXISTS scope_mappings (
    scope    String,
    entity   String,
    version  UInt64,
    deleted  UInt8
) ENGINE = ReplacingMergeTree(version)
ORDER BY (scope, entity);

-- cursors: watermarks, per-scope cursors and ETags of collectors.
CREATE TABLE IF NOT EXISTS cursors (
    key      String,
    value    String,
    version  UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY key;

-- check_results: every check of every scorecard for every entity, per scoring run.
CREATE TABLE IF NOT EXISTS check_results (
    run_id     String,
    run_at     DateTime,
    scorecard  String,
    check_id   String,
    entity     String,
    owner      String,
    level      String,
    state      String,
    value      String,
    message    String
) ENGINE = ReplacingMergeTree
ORDER BY (scorecard, entity, check_id, run_at, run_id);

-- score_summaries: the level and weighted score of each entity per scorecard, per run.
CREATE TABLE IF NOT EXISTS score_summaries (
    run_id     String,
    run_at     DateTime,
    scorecard  String,
    entity     String,
    owner      String,
    level      String,
    level_rank UInt8,
    score      Float64
) ENGINE = ReplacingMergeTree
ORDER BY (scorecard, entity, run_at, run_id);

-- campaign_results: per run, whether each applicable entity is done with a campaign.
CREATE TABLE IF NOT EXISTS campaign_results (
    run_id     String,
    run_at     DateTime,
    campaign   String,
    entity     String,
    owner      String,
    done       UInt8,
    state      String,
    message    String
) ENGINE = ReplacingMergeTree
ORDER BY (campaign, entity, run_at, run_id);
