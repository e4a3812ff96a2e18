-- The event attributes the metric refresh reads, stored as columns beside the
-- attribute arrays (num_<name>, str_<name>; 0 or '' when an event lacks it).
-- ClickHouse 18.16 reads a deduplicating (FINAL) query in one thread, copying
-- every column of every row it merges: with the attribute arrays that was 6x
-- the time of the same read of these scalar columns (4.6M change events:
-- 3.8 s against 0.6 s). ClickHouse computes them at insert (DEFAULT, not
-- MATERIALIZED: in cluster mode the Distributed table computes them and
-- sends them on to the shards, which refuse values for MATERIALIZED
-- columns; the store's inserts name their columns and never set these); parts written
-- before this migration compute them when read, until a merge stores them
-- (OPTIMIZE TABLE events FINAL stores them at once: docs/metrics.md).
-- store/metrics.go (eventAttrs) names the same attributes: keep both in step.
ALTER TABLE events
    ADD COLUMN num_number Float64 DEFAULT arrayElement(num_values, indexOf(num_keys, 'number')),
    ADD COLUMN num_opened_at Float64 DEFAULT arrayElement(num_values, indexOf(num_keys, 'opened_at')),
    ADD COLUMN num_additions Float64 DEFAULT arrayElement(num_values, indexOf(num_keys, 'additions')),
    ADD COLUMN num_deletions Float64 DEFAULT arrayElement(num_values, indexOf(num_keys, 'deletions')),
    ADD COLUMN num_first_commit_at Float64 DEFAULT arrayElement(num_values, indexOf(num_keys, 'first_commit_at')),
    ADD COLUMN num_duration_seconds Float64 DEFAULT arrayElement(num_values, indexOf(num_keys, 'duration_seconds')),
    ADD COLUMN num_off_hours Float64 DEFAULT arrayElement(num_values, indexOf(num_keys, 'off_hours')),
    ADD COLUMN num_change Float64 DEFAULT arrayElement(num_values, indexOf(num_keys, 'change')),
    ADD COLUMN num_rollback Float64 DEFAULT arrayElement(num_values, indexOf(num_keys, 'rollback')),
    ADD COLUMN str_sha String DEFAULT arrayElement(str_values, indexOf(str_keys, 'sha')),
    ADD COLUMN str_merge_commit_sha String DEFAULT arrayElement(str_values, indexOf(str_keys, 'merge_commit_sha')),
    ADD COLUMN str_environment String DEFAULT arrayElement(str_values, indexOf(str_keys, 'environment')),
    ADD COLUMN str_author String DEFAULT arrayElement(str_values, indexOf(str_keys, 'author')),
    ADD COLUMN str_conclusion String DEFAULT arrayElement(str_values, indexOf(str_keys, 'conclusion')),
    ADD COLUMN str_workflow String DEFAULT arrayElement(str_values, indexOf(str_keys, 'workflow')),
    ADD COLUMN str_incident_id String DEFAULT arrayElement(str_values, indexOf(str_keys, 'incident_id')),
    ADD COLUMN str_key String DEFAULT arrayElement(str_values, indexOf(str_keys, 'key')),
    ADD COLUMN str_to_category String DEFAULT arrayElement(str_values, indexOf(str_keys, 'to_category')),
    ADD COLUMN str_off_hours String DEFAULT arrayElement(str_values, indexOf(str_keys, 'off_hours')),
    ADD COLUMN str_deployment_id String DEFAULT arrayElement(str_values, indexOf(str_keys, 'deployment_id')),
    ADD COLUMN str_reverts String DEFAULT arrayElement(str_values, indexOf(str_keys, 'reverts')),
    ADD COLUMN str_change String DEFAULT arrayElement(str_values, indexOf(str_keys, 'change')),
    ADD COLUMN str_rollback String DEFAULT arrayElement(str_values, indexOf(str_keys, 'rollback'));
