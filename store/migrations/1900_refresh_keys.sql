-- refresh_keys: the keys (a pull request, a ticket, an incident, a commit, a
-- pipeline run, a deployment) that the events written since the previous
-- refresh touch, in every version they had (event_keys), by refresh
-- generation and kind: what an incremental refresh recomputes. A refresh
-- drops its partition when it ends, as it drops its stages.
CREATE TABLE IF NOT EXISTS refresh_keys (
    gen    UInt64,
    kind   String,
    scope  String,
    key    String
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY (kind, scope, key);

-- refresh_ids: the identities (events.idh) of every event that has a version
-- with a key in refresh_keys, by generation and kind. A refresh reads the
-- events of the keys it recomputes by them before FINAL deduplicates
-- (PREWHERE), which is exact because every version of an event has the same
-- identity: filtered by key, an untouched event whose older, unmerged version
-- had a touched key would be read in that older version.
CREATE TABLE IF NOT EXISTS refresh_ids (
    gen    UInt64,
    kind   String,
    idh    UInt64
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY (kind, idh);
