-- Leads are counted per UTC hour instead of per UTC day (lead_metric_hours replaces
-- lead_metric_days).
--
-- A period's whole units come from the counts and its two partial edges from the leads
-- themselves. With days, an edge was up to a day of leads, each read from the heap (a lead
-- row is rewritten so often that index-only scans rarely apply): 646 leads and 5.6 ms of
-- a 90-day `metrics` query's 18.7 on a tenant of 121,546 leads. An hour edge holds a
-- twenty-fourth of that, and summing 2,160 hour rows for 90 days takes about a millisecond.
--
-- Hours are UTC hours (date_trunc with the 'UTC' zone, whatever the session's TimeZone).

-- No lead or configuration is written between the count below and the new triggers (a
-- worker that runs meanwhile waits): a write in between would be counted by neither.
LOCK TABLE leads, tenant_config_versions IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE lead_metric_hours (
    tenant_id                 text NOT NULL,
    hour                      timestamptz NOT NULL,
    leads_created             integer NOT NULL DEFAULT 0,  -- by created_at
    created_with_opportunity  integer NOT NULL DEFAULT 0,  -- by created_at
    mqls                      integer NOT NULL DEFAULT 0,  -- by mql_at, as every column below
    mqls_with_sql             integer NOT NULL DEFAULT 0,
    sla_within                integer NOT NULL DEFAULT 0,  -- answered within the SLA limit
    sla_late                  integer NOT NULL DEFAULT 0,  -- answered after it
    sla_unanswered            integer NOT NULL DEFAULT 0,
    sqls                      integer NOT NULL DEFAULT 0,  -- by sql_at
    new_customers             integer NOT NULL DEFAULT 0   -- by customer_at
);
CREATE INDEX lead_metric_hours_hour ON lead_metric_hours (tenant_id, hour);
SELECT tandem_protect('lead_metric_hours');
ALTER TABLE lead_metric_hours SET (autovacuum_analyze_threshold = 200);

-- The leads already there (the migration runs as the owner, who sees every tenant).
INSERT INTO lead_metric_hours (
    tenant_id, hour, leads_created, created_with_opportunity, mqls, mqls_with_sql,
    sla_within, sla_late, sla_unanswered, sqls, new_customers)
SELECT tenant_id, hour, sum(leads_created), sum(with_opportunity), sum(mqls), sum(with_sql),
       sum(within), sum(late), sum(unanswered), sum(sqls), sum(customers)
FROM (
    SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour, 1 AS leads_created,
           (opportunity_at IS NOT NULL)::int AS with_opportunity, 0 AS mqls, 0 AS with_sql,
           0 AS within, 0 AS late, 0 AS unanswered, 0 AS sqls, 0 AS customers
    FROM leads
    UNION ALL
    SELECT tenant_id, date_trunc('hour', mql_at, 'UTC'), 0, 0, 1, (sql_at IS NOT NULL)::int,
           coalesce((sla_response_at <= mql_at + tandem_sla_response_limit(tenant_id))::int, 0),
           coalesce((sla_response_at > mql_at + tandem_sla_response_limit(tenant_id))::int, 0),
           (sla_response_at IS NULL)::int, 0, 0
    FROM leads WHERE mql_at IS NOT NULL
    UNION ALL
    SELECT tenant_id, date_trunc('hour', sql_at, 'UTC'), 0, 0, 0, 0, 0, 0, 0, 1, 0
    FROM leads WHERE sql_at IS NOT NULL
    UNION ALL
    SELECT tenant_id, date_trunc('hour', customer_at, 'UTC'), 0, 0, 0, 0, 0, 0, 0, 0, 1
    FROM leads WHERE customer_at IS NOT NULL
) facts
GROUP BY tenant_id, hour;

-- The triggers of migration 0053, counting by hour.
CREATE FUNCTION tandem_count_lead_hours() RETURNS trigger
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
        -- Only the row versions that differ in what is counted: most updates (a new score,
        -- a new trait) move no milestone and count nothing.
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
        SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour,
               sign AS leads_created,
               CASE WHEN opportunity_at IS NOT NULL THEN sign ELSE 0 END AS with_opportunity,
               0 AS mqls, 0 AS with_sql, 0 AS within, 0 AS late, 0 AS unanswered,
               0 AS sqls, 0 AS customers
        FROM c
        UNION ALL
        SELECT c.tenant_id, date_trunc('hour', c.mql_at, 'UTC'), 0, 0, c.sign,
               CASE WHEN c.sql_at IS NOT NULL THEN c.sign ELSE 0 END,
               CASE WHEN c.sla_response_at <= c.mql_at + l.lim THEN c.sign ELSE 0 END,
               CASE WHEN c.sla_response_at > c.mql_at + l.lim THEN c.sign ELSE 0 END,
               CASE WHEN c.sla_response_at IS NULL THEN c.sign ELSE 0 END,
               0, 0
        FROM c JOIN limits l USING (tenant_id)
        WHERE c.mql_at IS NOT NULL
        UNION ALL
        SELECT tenant_id, date_trunc('hour', sql_at, 'UTC'), 0, 0, 0, 0, 0, 0, 0, sign, 0
        FROM c WHERE sql_at IS NOT NULL
        UNION ALL
        SELECT tenant_id, date_trunc('hour', customer_at, 'UTC'), 0, 0, 0, 0, 0, 0, 0, 0, sign
        FROM c WHERE customer_at IS NOT NULL
    )
    INSERT INTO lead_metric_hours (
        tenant_id, hour, leads_created, created_with_opportunity, mqls, mqls_with_sql,
        sla_within, sla_late, sla_unanswered, sqls, new_customers)
    SELECT tenant_id, hour, sum(leads_created), sum(with_opportunity), sum(mqls),
           sum(with_sql), sum(within), sum(late), sum(unanswered), sum(sqls), sum(customers)
    FROM facts
    GROUP BY tenant_id, hour
    HAVING sum(abs(leads_created) + abs(with_opportunity) + abs(mqls) + abs(with_sql)
               + abs(within) + abs(late) + abs(unanswered) + abs(sqls) + abs(customers)) > 0;
    RETURN NULL;
END $$;

DROP TRIGGER leads_count_inserted ON leads;
DROP TRIGGER leads_count_updated ON leads;
DROP TRIGGER leads_count_deleted ON leads;
CREATE TRIGGER leads_count_inserted AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_count_lead_hours();
CREATE TRIGGER leads_count_updated AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_count_lead_hours();
CREATE TRIGGER leads_count_deleted AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_count_lead_hours();
DROP FUNCTION tandem_count_lead_days();

-- A new SLA limit re-classifies the tenant's answered MQLs from the old limit to the new.
CREATE OR REPLACE FUNCTION tandem_reclassify_sla() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before_limit interval;
    after_limit interval := make_interval(
        secs => 3600 * coalesce((NEW.config #>> '{sla,mql_response_hours}')::float8, 24));
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('config:' || NEW.tenant_id));
    SELECT make_interval(
               secs => 3600 * coalesce((config #>> '{sla,mql_response_hours}')::float8, 24))
      INTO before_limit
      FROM tenant_config_versions
     WHERE tenant_id = NEW.tenant_id AND version < NEW.version
     ORDER BY version DESC LIMIT 1;
    before_limit := coalesce(before_limit, make_interval(hours => 24));
    IF before_limit = after_limit THEN
        RETURN NULL;
    END IF;
    INSERT INTO lead_metric_hours (tenant_id, hour, sla_within, sla_late)
    SELECT tenant_id, hour, sum(within), sum(late)
    FROM (
        SELECT tenant_id, date_trunc('hour', mql_at, 'UTC') AS hour,
               (sla_response_at <= mql_at + after_limit)::int
                 - (sla_response_at <= mql_at + before_limit)::int AS within,
               (sla_response_at > mql_at + after_limit)::int
                 - (sla_response_at > mql_at + before_limit)::int AS late
        FROM leads
        WHERE tenant_id = NEW.tenant_id AND mql_at IS NOT NULL AND sla_response_at IS NOT NULL
    ) moved
    GROUP BY tenant_id, hour
    HAVING sum(abs(within) + abs(late)) > 0;
    RETURN NULL;
END $$;

-- Merges each tenant's hour rows into one per hour once it has gathered more than
-- `p_slack` extra rows. Runs as the owner because it spans tenants; it moves counts
-- within a tenant and returns only how many tenants it merged.
CREATE FUNCTION tandem_compact_lead_metric_hours(p_slack integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    t text;
    merged integer := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('lead_metric_hours:compaction')) THEN
        RETURN 0;
    END IF;
    FOR t IN
        SELECT tenant_id FROM lead_metric_hours
        GROUP BY tenant_id HAVING count(*) > count(DISTINCT hour) + p_slack
    LOOP
        WITH gone AS (DELETE FROM lead_metric_hours WHERE tenant_id = t RETURNING *)
        INSERT INTO lead_metric_hours (
            tenant_id, hour, leads_created, created_with_opportunity, mqls, mqls_with_sql,
            sla_within, sla_late, sla_unanswered, sqls, new_customers)
        SELECT tenant_id, hour, sum(leads_created), sum(created_with_opportunity), sum(mqls),
               sum(mqls_with_sql), sum(sla_within), sum(sla_late), sum(sla_unanswered),
               sum(sqls), sum(new_customers)
        FROM gone
        GROUP BY tenant_id, hour
        HAVING sum(abs(leads_created) + abs(created_with_opportunity) + abs(mqls)
                   + abs(mqls_with_sql) + abs(sla_within) + abs(sla_late)
                   + abs(sla_unanswered) + abs(sqls) + abs(new_customers)) > 0;
        merged := merged + 1;
    END LOOP;
    RETURN merged;
END $$;
REVOKE ALL ON FUNCTION tandem_compact_lead_metric_hours(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tandem_compact_lead_metric_hours(integer) TO tandem_app;

DROP FUNCTION tandem_compact_lead_metric_days(integer);
DROP TABLE lead_metric_days;
