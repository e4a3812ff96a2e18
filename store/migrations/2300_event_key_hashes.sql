-- event_key_hashes: every key (store/keys.go, keySources) that every version
-- of every event carries, as the hash of its scope and key (keyHash) by kind,
-- with the event's identity (idh), sorted by kind and hash. An incremental
-- refresh finds the events of the keys it recomputes here (refresh_ids),
-- reading two hashes a row of one kind's range, where computing every
-- event's key from event_keys, strings and all, took 1.5 of its 3.9 CPU-s at
-- 10M events, and most of its 10 s at 100M (docs/metrics.md, "What it
-- costs"). Rows are never replaced, as in event_keys: a key a rewrite left
-- stays found.
--
-- kind is an Enum8, a byte a row: reading a 4M-row kind's range for its
-- touched keys took 0.055–0.068 s against 0.093–0.099 s as a String (10M
-- events, by hand). A new kind of key needs a value here.
--
-- The view computes, per row, what keySources say in Go: the key of its type's
-- kind, a merge's merge commit, and the commits a successful deployment
-- shipped (its related shas and its sha attribute). A test holds the two to
-- the same rows (TestEventKeyHashesMatchKeySources); the backfill
-- (store/migrate.go) writes the versions stored before this migration from
-- event_keys by keySources themselves.
CREATE TABLE IF NOT EXISTS event_key_hashes (
    kind  Enum8('pull_request' = 1, 'ticket' = 2, 'incident' = 3, 'commit' = 4, 'pipeline' = 5, 'deployment' = 6),
    kh    UInt64,
    idh   UInt64
) ENGINE = MergeTree
ORDER BY (kind, kh);

CREATE MATERIALIZED VIEW IF NOT EXISTS event_key_hashes_writer TO event_key_hashes AS
SELECT CAST(k.1 AS Enum8('pull_request' = 1, 'ticket' = 2, 'incident' = 3, 'commit' = 4, 'pipeline' = 5, 'deployment' = 6)) AS kind, k.2 AS kh, cityHash64(type, scope, source, id) AS idh FROM events
ARRAY JOIN arrayFilter(k -> k.1 != '', arrayConcat(
    [(multiIf(type IN ('change.opened', 'change.merged', 'change.reviewed'), 'pull_request',
              type IN ('ticket.created', 'ticket.transitioned', 'ticket.resolved'), 'ticket',
              type IN ('incident.triggered', 'incident.acknowledged', 'incident.resolved'), 'incident',
              type = 'commit.pushed', 'commit',
              type = 'pipeline.finished', 'pipeline',
              type IN ('deployment.succeeded', 'deployment.failed'), 'deployment', ''),
      cityHash64(scope, multiIf(type IN ('change.opened', 'change.merged', 'change.reviewed'), if(num_number > 0, toString(toUInt64(num_number)), id),
                                type IN ('ticket.created', 'ticket.transitioned', 'ticket.resolved'), if(str_key != '', str_key, id),
                                type IN ('incident.triggered', 'incident.acknowledged', 'incident.resolved'), if(str_incident_id != '', str_incident_id, id),
                                type = 'commit.pushed', if(str_sha != '', str_sha, id),
                                id))),
     (if(type = 'change.merged' AND str_merge_commit_sha != '', 'commit', ''), cityHash64(scope, str_merge_commit_sha))],
    arrayMap(h -> (if(type = 'deployment.succeeded' AND h != '', 'commit', ''), cityHash64(scope, h)), arrayConcat(related, [str_sha])))) AS k;
