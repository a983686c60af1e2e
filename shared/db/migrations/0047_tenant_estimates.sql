-- Plans that do not depend on how big the planner thinks a tenant is.
--
-- Every statement reads one tenant's rows (or a batch's tenants', each row by its own
-- tenant), and row-level security adds `tenant_id = ANY (bound tenants)`, an array the
-- planner cannot see while planning. From the statistics, a tenant newer than the last
-- ANALYZE is empty, and the policy's condition, priced as ten unknown tenants, was
-- multiplied with the statement's own `tenant_id = ...`. A tenant then looked like less
-- than one row, every index that starts with tenant_id looked as cheap as the key, and the
-- worker's key lookups went through whichever came first: on a lead,
-- (tenant_id, created_at, lead_id), reading every entry of the tenant for each key (321 ms
-- for 200 leads of an 80,000-lead table, against 4 ms through the primary key). The cost of
-- an event grew with its tenant.
--
-- Inside a statement the tenant is fixed, so tenant_id is declared to have one distinct
-- value: comparing it with a parameter, or with the policy's array, no longer narrows the
-- estimate, and a lookup by key is priced by its key. A comparison with a literal tenant
-- still uses the tenant's own frequency from the statistics. Tables protected later get the
-- same declaration from tandem_protect.
CREATE OR REPLACE FUNCTION tandem_protect(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s USING (tenant_id = ANY ((SELECT tandem_tenants())::text[])) '
        'WITH CHECK (tenant_id = ANY ((SELECT tandem_tenants())::text[]))', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO tandem_app', t);
    EXECUTE format('ALTER TABLE %s ALTER COLUMN tenant_id SET (n_distinct = 1)', t);
END $$;

DO $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT schemaname, tablename FROM pg_policies WHERE policyname = 'tenant_isolation'
    LOOP
        EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN tenant_id SET (n_distinct = 1)',
                       p.schemaname, p.tablename);
        -- The declaration takes effect with the next ANALYZE; a sample, so quick on any size.
        EXECUTE format('ANALYZE %I.%I', p.schemaname, p.tablename);
    END LOOP;
END $$;
