-- Catalog sources own their entities: each entity records the source that
-- provided it (a configured name, an import root path or URL, a Backstage base
-- URL), and entity_history which source added, changed or removed it. An import
-- replaces only its own source's entities. Rows written before this migration
-- have source '' and are adopted by the first source that provides them.
-- (ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS; the migration runs once.)
ALTER TABLE entities ADD COLUMN source String DEFAULT '';
ALTER TABLE entity_history ADD COLUMN source String DEFAULT '';

-- catalog_sources: the last import of each source, for `catalog sources`.
-- status is ok, errors (good entities stored, nothing removed) or refused.
CREATE TABLE IF NOT EXISTS catalog_sources (
    name         String,
    imported_at  DateTime,
    found        UInt64,
    status       String,
    message      String,
    version      UInt64,
    deleted      UInt8
) ENGINE = ReplacingMergeTree(version)
ORDER BY name;
