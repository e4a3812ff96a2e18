-- event_types: the event types the events table holds. Every write records
-- the types it has not recorded yet before it writes their events, so a type
-- is listed here before any event of it can be read. Reads of a few scopes'
-- events name the types, so that ClickHouse reads only those scopes' ranges of
-- events' primary key (type, scope, …) instead of every row's scope (7× on
-- 1.1M events).
CREATE TABLE IF NOT EXISTS event_types (
    type     String,
    version  UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY type;

-- The types of the events stored before this migration are recorded by its
-- backfill (store/migrate.go, backfills).
