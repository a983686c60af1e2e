-- Row-level security is `tenant_id = ANY (bound tenants)` again, as before migration 0050.
--
-- 0050's range bounds (lowest and highest bound tenant, InitPlan parameters) are priced by
-- the planner as a default range, half a percent of a table, multiplied with the
-- statement's own tenant condition: a tenant looked like less than one row, every index
-- starting with tenant_id tied with the key, and a lookup by key could read a whole tenant
-- through (tenant_id, created_at, lead_id). The SLA sweep's lookups of committed leads did
-- so: 11 s for 3,649 leads, against milliseconds. The array condition is priced as the
-- whole tenant (tenant_id has one distinct value, migration 0047), so the key wins; its
-- cost per bound tenant on every lookup of a transaction bound to many tenants remains.
CREATE OR REPLACE FUNCTION tandem_tenant_rule() RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'tenant_id = ANY ((SELECT tandem_tenants())::text[])'
$$;

DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND c.relforcerowsecurity
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (%s) WITH CHECK (%s)',
                       t, tandem_tenant_rule(), tandem_tenant_rule());
    END LOOP;
END $$;

DROP FUNCTION tandem_tenants_low();
DROP FUNCTION tandem_tenants_high();
DROP FUNCTION tandem_tenants_one();
DROP FUNCTION tandem_tenants_set();
