-- refresh_stages again, with merges turned off. A stage's rows live only
-- while one refresh runs (it drops its partition when it ends), yet
-- ClickHouse merged the parts a stage was written in while the families read
-- them: at 11M events one merge of 1.4–2.1M stage rows took 0.72–0.80 s of
-- each full refresh's 2 cores, for a part dropped seconds later. No merge may write
-- more than one byte here, so the merge selector picks none (ClickHouse 18.16
-- has no setting that turns merges off by name, and no ALTER … MODIFY
-- SETTING, so the table is created again). Unmerged, a stage keeps every
-- part its INSERT … SELECT wrote, one per 262,144 rows: at 100M events the
-- two stages of a refresh are about 105 parts in one partition, so the
-- thresholds at which ClickHouse delays and then refuses inserts into a
-- partition (150 and 300 parts) are lifted for this table alone. Dropped and
-- created again as in
-- 1400_refresh_stages_unsorted.sql: a refresh running while another process
-- applies this migration fails once and the next one succeeds.
DROP TABLE IF EXISTS refresh_stages;
CREATE TABLE IF NOT EXISTS refresh_stages (
    gen    UInt64,
    stage  String,
    scope  String,
    ref    String,
    n1     UInt32,
    n2     UInt32,
    t1     DateTime,
    t2     DateTime,
    size   Float64
) ENGINE = MergeTree
PARTITION BY gen
ORDER BY (gen, stage)
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 100000, parts_to_throw_insert = 100000;
