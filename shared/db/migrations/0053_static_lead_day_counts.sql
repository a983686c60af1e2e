-- The lead-count triggers of migration 0003 in static SQL, counting only what moved.
--
-- They built their two statements as text on every firing (EXECUTE format(...)), so
-- PostgreSQL parsed and planned them again each time: 2.5 ms per trigger call whatever the
-- number of rows, and a worker's lead upsert fires two of them (the INSERT and the UPDATE
-- trigger). Static statements are planned once per session and trigger.
--
-- An update counts only the row versions that differ in what is counted: the new versions
-- not among the old ones (`EXCEPT ALL`) count in, the old versions not among the new ones
-- count out. Counts are sums over rows, so this is the same sum as counting every old
-- version out and every new one in; but most updates (a new score, a new trait) move no
-- milestone and then count nothing, and take no lock.

CREATE TYPE tandem_lead_milestones AS (
    tenant_id       text,
    sign            integer,
    created_at      timestamptz,
    opportunity_at  timestamptz,
    mql_at          timestamptz,
    sql_at          timestamptz,
    sla_response_at timestamptz,
    customer_at     timestamptz
);

CREATE OR REPLACE FUNCTION tandem_count_lead_days() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed tandem_lead_milestones[];
BEGIN
    -- Each branch names only the transition tables its trigger has: a static statement is
    -- parsed when it first runs, so the others never are.
    IF TG_OP = 'INSERT' THEN
        changed := ARRAY(
            SELECT ROW(tenant_id, 1, created_at, opportunity_at, mql_at, sql_at,
                       sla_response_at, customer_at)::tandem_lead_milestones
            FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        changed := ARRAY(
            SELECT ROW(tenant_id, -1, created_at, opportunity_at, mql_at, sql_at,
                       sla_response_at, customer_at)::tandem_lead_milestones
            FROM old_rows);
    ELSE
        changed := ARRAY(
            SELECT ROW(tenant_id, 1, created_at, opportunity_at, mql_at, sql_at,
                       sla_response_at, customer_at)::tandem_lead_milestones
            FROM (SELECT tenant_id, created_at, opportunity_at, mql_at, sql_at,
                         sla_response_at, customer_at FROM new_rows
                  EXCEPT ALL
                  SELECT tenant_id, created_at, opportunity_at, mql_at, sql_at,
                         sla_response_at, customer_at FROM old_rows) moved_in
            UNION ALL
            SELECT ROW(tenant_id, -1, created_at, opportunity_at, mql_at, sql_at,
                       sla_response_at, customer_at)::tandem_lead_milestones
            FROM (SELECT tenant_id, created_at, opportunity_at, mql_at, sql_at,
                         sla_response_at, customer_at FROM old_rows
                  EXCEPT ALL
                  SELECT tenant_id, created_at, opportunity_at, mql_at, sql_at,
                         sla_response_at, customer_at FROM new_rows) moved_out);
    END IF;
    IF cardinality(changed) = 0 THEN
        RETURN NULL;
    END IF;
    -- Its own statement, so the limit below is read after any config change committed.
    PERFORM count(pg_advisory_xact_lock_shared(hashtext('config:' || tenant_id)))
    FROM (SELECT DISTINCT tenant_id FROM unnest(changed) ORDER BY 1) t;
    WITH c AS (
        SELECT * FROM unnest(changed)
    ),
    limits AS (
        SELECT tenant_id, tandem_sla_response_limit(tenant_id) AS lim
        FROM (SELECT DISTINCT tenant_id FROM c) t
    ),
    facts AS (
        SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date AS day,
               sign AS leads_created,
               CASE WHEN opportunity_at IS NOT NULL THEN sign ELSE 0 END AS with_opportunity,
               0 AS mqls, 0 AS with_sql, 0 AS within, 0 AS late, 0 AS unanswered,
               0 AS sqls, 0 AS customers
        FROM c
        UNION ALL
        SELECT c.tenant_id, (c.mql_at AT TIME ZONE 'UTC')::date, 0, 0, c.sign,
               CASE WHEN c.sql_at IS NOT NULL THEN c.sign ELSE 0 END,
               CASE WHEN c.sla_response_at <= c.mql_at + l.lim THEN c.sign ELSE 0 END,
               CASE WHEN c.sla_response_at > c.mql_at + l.lim THEN c.sign ELSE 0 END,
               CASE WHEN c.sla_response_at IS NULL THEN c.sign ELSE 0 END,
               0, 0
        FROM c JOIN limits l USING (tenant_id)
        WHERE c.mql_at IS NOT NULL
        UNION ALL
        SELECT tenant_id, (sql_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 0, 0, 0, sign, 0
        FROM c WHERE sql_at IS NOT NULL
        UNION ALL
        SELECT tenant_id, (customer_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 0, 0, 0, 0, sign
        FROM c WHERE customer_at IS NOT NULL
    )
    INSERT INTO lead_metric_days (
        tenant_id, day, leads_created, created_with_opportunity, mqls, mqls_with_sql,
        sla_within, sla_late, sla_unanswered, sqls, new_customers)
    SELECT tenant_id, day, sum(leads_created), sum(with_opportunity), sum(mqls),
           sum(with_sql), sum(within), sum(late), sum(unanswered), sum(sqls), sum(customers)
    FROM facts
    GROUP BY tenant_id, day
    HAVING sum(abs(leads_created) + abs(with_opportunity) + abs(mqls) + abs(with_sql)
               + abs(within) + abs(late) + abs(unanswered) + abs(sqls) + abs(customers)) > 0;
    RETURN NULL;
END $$;
