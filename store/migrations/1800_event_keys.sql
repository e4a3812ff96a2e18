-- event_keys: every version of every event written, by identity, with what
-- the metric refresh derives its keys from (a pull request's number, a
-- ticket's key, an incident's id, a commit's sha, a merge's commit, the
-- commits a deployment shipped), its time and whether it was a tombstone.
-- events is a ReplacingMergeTree: a merge keeps only an event's newest
-- version, so once merged nothing says what an older version was. A refresh
-- that recomputes only the keys new events touch must also recompute the keys
-- a rewrite or tombstone left (a Jira issue moved to another project, a
-- deployment whose shipped commits were recomputed); this table keeps them
-- (a plain MergeTree never drops a row). idh hashes the identity (type,
-- scope, source, id): finding the other versions of the events written since
-- a refresh by it took 0.6 CPU-s less than by the four strings for the
-- pull-request events of 11M (the hash alone, computed per row, 0.6 CPU-s).
-- The materialized view writes it in
-- the same INSERT as events, so no version of an event is stored without its
-- row here. Measured by hand on 1.35M events: 2.4–2.55 server CPU-s to insert
-- with the view against 1.7–1.9 without it, 27 MiB beside the events' 71
-- (docs/metrics.md, "Incremental refresh").
CREATE TABLE IF NOT EXISTS event_keys (
    idh                   UInt64,
    type                  String,
    scope                 String,
    source                String,
    id                    String,
    time                  DateTime,
    version               UInt64,
    deleted               UInt8,
    num_number            Float64,
    str_key               String,
    str_incident_id       String,
    str_sha               String,
    str_merge_commit_sha  String,
    related               Array(String)
) ENGINE = MergeTree
ORDER BY (type, scope, source, id, version)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS event_keys_writer TO event_keys AS
SELECT cityHash64(type, scope, source, id) AS idh, type, scope, source, id, time, version, deleted, num_number, str_key, str_incident_id, str_sha,
    str_merge_commit_sha, related
FROM events;

-- The versions of the events stored before this migration are copied by its
-- backfill (store/migrate.go, backfills): what merges have dropped already
-- is gone, which is why the first refresh after this migration rebuilds.
