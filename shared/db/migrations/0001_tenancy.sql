-- Tenants, credentials and versioned configuration. Every tenant table carries tenant_id
-- and has row-level security enabled and forced; the application role sets
-- tandem.tenant_id per transaction and sees nothing else.

CREATE FUNCTION tandem_current_tenant() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('tandem.tenant_id', true), '') $$;

-- Enables and forces row-level security on a tenant table and gives the application role
-- access to it through the tenant policy only. Every migration calls it for its tables.
CREATE FUNCTION tandem_protect(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s USING (tenant_id = tandem_current_tenant()) '
        'WITH CHECK (tenant_id = tandem_current_tenant())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO tandem_app', t);
END $$;

CREATE TABLE tenants (
    tenant_id   text PRIMARY KEY CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    tenant_id   text NOT NULL REFERENCES tenants,
    key_id      text PRIMARY KEY,
    key_hash    bytea NOT NULL UNIQUE,
    role        text NOT NULL CHECK (role IN ('admin', 'marketing', 'sales', 'viewer', 'ingest')),
    label       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE tenant_config_versions (
    tenant_id   text NOT NULL REFERENCES tenants,
    version     integer NOT NULL CHECK (version >= 1),
    section     text NOT NULL,
    config      jsonb NOT NULL,
    author      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, version)
);

-- Credentials are looked up before any tenant is known, so the lookup runs as the owner
-- (which bypasses RLS) and returns only the matching key's tenant and role.
CREATE FUNCTION tandem_authenticate(p_hash bytea)
RETURNS TABLE (tenant_id text, role text, key_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT k.tenant_id, k.role, k.key_id FROM api_keys k
    WHERE k.key_hash = p_hash AND k.revoked_at IS NULL
$$;

-- Workers route records of every tenant and must tell a known tenant from an unknown one.
CREATE FUNCTION tandem_known_tenants() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT tenant_id FROM tenants
$$;

SELECT tandem_protect('tenants');
SELECT tandem_protect('api_keys');
SELECT tandem_protect('tenant_config_versions');
GRANT EXECUTE ON FUNCTION tandem_authenticate(bytea), tandem_known_tenants() TO tandem_app;
