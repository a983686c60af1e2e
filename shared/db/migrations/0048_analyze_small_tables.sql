-- Statistics for the tables that grow by a few rows per thousand events.
--
-- A table without statistics is planned as nearly empty, and a worker keeps a statement's
-- generic plan until the table's next ANALYZE. Migration 0046 re-analyzes after 1 % of a
-- table, and at least 5,000 rows, changed: the event-sized tables pass 5,000 rows within
-- seconds of a tenant's start, but opportunities grow by about one row per hundred events.
-- On a new deployment the accounts step's open-opportunity lookup was planned as a
-- sequential scan of a "nearly empty" opportunities table for each account member, and kept
-- that plan until the table reached 5,000 rows: 82 µs of PostgreSQL time per event at
-- 300,000 events, against 1.3 µs through (tenant_id, lead_id) once the table is analyzed.
-- These tables are re-analyzed after 200 changed rows (and 1 % of a large table); ANALYZE
-- of a small table is cheap, and a large one still waits for its 1 %.
ALTER TABLE opportunities SET (autovacuum_analyze_threshold = 200);
ALTER TABLE accounts SET (autovacuum_analyze_threshold = 200);
ALTER TABLE account_members SET (autovacuum_analyze_threshold = 200);
ALTER TABLE identities SET (autovacuum_analyze_threshold = 200);
ALTER TABLE sla_breaches SET (autovacuum_analyze_threshold = 200);
