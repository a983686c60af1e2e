-- The highest event-log seq folded into a lead's row. A worker that keeps lead states in
-- memory trusts its copy only while this matches, so another worker's write (after a
-- rebalance or a re-score) sends it back to the event log.
ALTER TABLE leads ADD COLUMN last_seq bigint NOT NULL DEFAULT 0;
