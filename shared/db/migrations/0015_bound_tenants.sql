-- A transaction may be bound to a set of tenants instead of one: the worker applies a batch
-- of many tenants in one transaction with set-based statements, binding the batch's tenants
-- once (tandem.tenants, a text[] literal). Row-level security still checks every row read
-- or written: its tenant must be the transaction's tenant (tandem.tenant_id, as the gateway
-- binds it) or one of the bound set. The set is read once per statement (an InitPlan), and
-- `tenant_id = ANY(...)` stays an index condition, so a one-tenant read plans as before.

CREATE FUNCTION tandem_tenants() RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN nullif(current_setting('tandem.tenants', true), '') IS NOT NULL
            THEN current_setting('tandem.tenants', true)::text[]
        ELSE ARRAY[tandem_current_tenant()]
    END
$$;

CREATE OR REPLACE FUNCTION tandem_protect(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s USING (tenant_id = ANY ((SELECT tandem_tenants())::text[])) '
        'WITH CHECK (tenant_id = ANY ((SELECT tandem_tenants())::text[]))', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO tandem_app', t);
END $$;

DO $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT schemaname, tablename FROM pg_policies WHERE policyname = 'tenant_isolation'
    LOOP
        EXECUTE format(
            'ALTER POLICY tenant_isolation ON %I.%I USING (tenant_id = ANY ((SELECT tandem_tenants())::text[])) '
            'WITH CHECK (tenant_id = ANY ((SELECT tandem_tenants())::text[]))', p.schemaname, p.tablename);
    END LOOP;
END $$;
