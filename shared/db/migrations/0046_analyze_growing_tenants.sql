-- Statistics that keep up with a growing tenant.
--
-- Every query reads one tenant's rows, and the planner estimates them from the statistics
-- of tenant_id. A tenant that is new since the last ANALYZE (a first import, a new
-- customer) looks empty to it: its key lookups were planned through the wrong index (one
-- whose leading column after tenant_id is not the key), each reading all of the tenant's
-- rows, so the worker's cost per event grew with the tenant (the accounts step's key
-- lookups: 3 ms a batch with fresh statistics, 540 ms without). By default a table is
-- re-analyzed after 10 % of it changed: on a table of many tenants a new one can reach
-- hundreds of thousands of rows before that. Here the tables the worker reads by key are
-- re-analyzed after 1 % (and at least 5,000 rows) changed; ANALYZE reads a fixed sample,
-- so this costs the same on a large table as on a small one.
ALTER TABLE events SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 5000);
ALTER TABLE leads SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 5000);
ALTER TABLE accounts SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 5000);
ALTER TABLE account_members SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 5000);
ALTER TABLE identities SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 5000);
ALTER TABLE opportunities SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 5000);
ALTER TABLE stage_transitions SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 5000);
ALTER TABLE attribution_credits SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 5000);
ALTER TABLE sla_breaches SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 5000);
