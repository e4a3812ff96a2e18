-- Notifications. Every statement runs on ClickHouse 18.16 and on current releases.

-- notification_ledger: append-only record of every claim, send, failure and
-- abandonment of a delivery (a notification to one channel target). at is the
-- server's clock, so instances with skewed clocks agree on which claim came first.
CREATE TABLE IF NOT EXISTS notification_ledger (
    delivery      String,
    notification  String,
    attempt       UInt32,
    kind          String,
    instance      String,
    token         String,
    at            DateTime DEFAULT now(),
    lease_seconds UInt32,
    retry_seconds UInt32,
    trigger       String,
    subject       String,
    group_ref     String,
    channel       String,
    target        String,
    title         String,
    body          String,
    error         String
) ENGINE = MergeTree
ORDER BY (delivery, attempt, at, token);

-- collector_runs: the outcome of each collector run, for "failing N runs in a row".
CREATE TABLE IF NOT EXISTS collector_runs (
    collector String,
    at        DateTime,
    error     String
) ENGINE = MergeTree
ORDER BY (collector, at);
