-- leads_by_created (tenant_id, created_at, lead_id) answers every lookup that
-- leads_created (tenant_id, created_at) did, and each of the worker's lead writes (an
-- update of most columns, never a HOT update) paid for both: one index fewer to maintain
-- per lead row written.
DROP INDEX leads_created;
