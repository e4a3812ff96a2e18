-- Incremental metric refresh. A full refresh writes every scope's observations
-- into a generation of its own; an incremental one recomputes only the scopes
-- whose events were written since the previous refresh, into a generation of
-- its own, and metric_overrides says, for each refresh, which generation holds
-- the current rows of each recomputed scope (all other scopes: the base).

-- metric_refreshes: one row per finished refresh of a configuration (a hash of
-- the metric definitions, production environments and failure window). gen is
-- the refresh's id and the gen of the rows it wrote; base is the full refresh
-- it builds on (itself for a full one); mappings is the hash of scope_mappings
-- it was computed with; scopes is how many scopes it recomputed (0: all).
CREATE TABLE IF NOT EXISTS metric_refreshes (
    config   String,
    gen      UInt64,
    base     UInt64,
    at       DateTime,
    mappings UInt64,
    rows     UInt64,
    scopes   UInt64
) ENGINE = MergeTree
ORDER BY (config, gen);

-- metric_overrides: per refresh (gen), the scopes recomputed since its base
-- and the generation (sgen) holding their current observations.
CREATE TABLE IF NOT EXISTS metric_overrides (
    config  String,
    gen     UInt64,
    scope   String,
    sgen    UInt64
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY (config, gen, scope);

-- Replaced by metric_refreshes: observations without a refresh row are never
-- read, and the first read refreshes in full.
DROP TABLE IF EXISTS metric_generations;
