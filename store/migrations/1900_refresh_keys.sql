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
