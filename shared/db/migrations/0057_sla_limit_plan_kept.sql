-- tandem_sla_response_limit in PL/pgSQL, whose statement plans a session keeps.
--
-- As a SQL function it could not be inlined (its body holds a subquery), so every call
-- parsed and planned that body again: 69 µs a call, against 8 µs now. It is called once
-- per tenant by every `metrics` query and by the lead-count triggers of every statement
-- that moves a milestone, so a batch of 500 tenants paid it 500 times per statement.
CREATE OR REPLACE FUNCTION tandem_sla_response_limit(p_tenant text) RETURNS interval
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN make_interval(secs => 3600 * coalesce(
        (SELECT (config #>> '{sla,mql_response_hours}')::float8
         FROM tenant_config_versions WHERE tenant_id = p_tenant
         ORDER BY version DESC LIMIT 1),
        24));
END $$;
