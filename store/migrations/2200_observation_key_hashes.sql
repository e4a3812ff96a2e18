-- kh: the hash of an observation's scope and ref, the key the refresh folded
-- its events by (store/keys.go, keyHash). An incremental refresh finds the
-- current observations of the keys it recomputed by it, to take each
-- family's cut and to copy the others from the cut on (store/metric_refresh.go,
-- sliceFamily): hashing both strings of every current row there took
-- 0.14–0.25 s per family at 10M events, reading this column 0.04–0.06 s
-- (1.6M pull-request rows, by hand). ClickHouse computes it at insert, as
-- events.idh (2000_events_identity.sql); older parts compute it when read.
ALTER TABLE metric_observations
    ADD COLUMN kh UInt64 DEFAULT cityHash64(scope, ref);
