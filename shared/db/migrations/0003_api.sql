-- What the GraphQL API needs to answer `metrics` (SPEC 6) in milliseconds on large tenants.
--
-- A tenant's leads are counted per UTC day of each milestone in lead_metric_days, kept
-- current by statement triggers on leads, so a period costs a few hundred day rows plus the
-- leads of its two partial edge days instead of a scan of every lead. Opportunities (an
-- order of magnitude fewer) are read through covering indexes.

-- Each row is a signed change to the counts of one (tenant, day); a day's counts are the sum
-- of its rows. Triggers only append, so concurrent writers of one tenant never wait on each
-- other; the gateway merges a tenant's rows into one per day every few seconds.
CREATE TABLE lead_metric_days (
    tenant_id                 text NOT NULL,
    day                       date NOT NULL,
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
CREATE INDEX lead_metric_days_day ON lead_metric_days (tenant_id, day);
SELECT tandem_protect('lead_metric_days');

-- SPEC 7's response limit of a tenant; 24 h is the default of shared.domain.config.SlaRules.
CREATE FUNCTION tandem_sla_response_limit(p_tenant text) RETURNS interval
LANGUAGE sql STABLE AS $$
    SELECT make_interval(secs => 3600 * coalesce(
        (SELECT (config #>> '{sla,mql_response_hours}')::float8
         FROM tenant_config_versions WHERE tenant_id = p_tenant
         ORDER BY version DESC LIMIT 1),
        24))
$$;

-- Whether an answered MQL was answered within the limit is decided when its row is counted,
-- with the limit in force. Writers of leads hold the tenant's config lock (the key
-- shared.config_store.save_config locks) shared, and a new config version holds it
-- exclusively while it re-classifies the answered MQLs, so every lead row is counted and
-- uncounted under the same limit.
CREATE FUNCTION tandem_count_lead_days() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT 1 AS sign, * FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT -1 AS sign, * FROM old_rows'
        ELSE 'SELECT -1 AS sign, * FROM old_rows UNION ALL SELECT 1, * FROM new_rows'
    END;
BEGIN
    -- Its own statement, so the limit below is read after any config change committed.
    EXECUTE format(
        'SELECT pg_advisory_xact_lock_shared(hashtext(''config:'' || tenant_id))'
        ' FROM (SELECT DISTINCT tenant_id FROM (%s) c ORDER BY 1) t', changed);
    EXECUTE format($sql$
        WITH changed AS (%s),
        limits AS (
            SELECT tenant_id, tandem_sla_response_limit(tenant_id) AS lim
            FROM (SELECT DISTINCT tenant_id FROM changed) t
        ),
        facts AS (
            SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date AS day,
                   sign AS leads_created,
                   CASE WHEN opportunity_at IS NOT NULL THEN sign ELSE 0 END AS with_opportunity,
                   0 AS mqls, 0 AS with_sql, 0 AS within, 0 AS late, 0 AS unanswered,
                   0 AS sqls, 0 AS customers
            FROM changed
            UNION ALL
            SELECT c.tenant_id, (c.mql_at AT TIME ZONE 'UTC')::date, 0, 0, c.sign,
                   CASE WHEN c.sql_at IS NOT NULL THEN c.sign ELSE 0 END,
                   CASE WHEN c.sla_response_at <= c.mql_at + l.lim THEN c.sign ELSE 0 END,
                   CASE WHEN c.sla_response_at > c.mql_at + l.lim THEN c.sign ELSE 0 END,
                   CASE WHEN c.sla_response_at IS NULL THEN c.sign ELSE 0 END,
                   0, 0
            FROM changed c JOIN limits l USING (tenant_id)
            WHERE c.mql_at IS NOT NULL
            UNION ALL
            SELECT tenant_id, (sql_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 0, 0, 0, sign, 0
            FROM changed WHERE sql_at IS NOT NULL
            UNION ALL
            SELECT tenant_id, (customer_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 0, 0, 0, 0, sign
            FROM changed WHERE customer_at IS NOT NULL
        )
        INSERT INTO lead_metric_days (
            tenant_id, day, leads_created, created_with_opportunity, mqls, mqls_with_sql,
            sla_within, sla_late, sla_unanswered, sqls, new_customers)
        SELECT tenant_id, day, sum(leads_created), sum(with_opportunity), sum(mqls),
               sum(with_sql), sum(within), sum(late), sum(unanswered), sum(sqls), sum(customers)
        FROM facts
        GROUP BY tenant_id, day
        HAVING sum(abs(leads_created) + abs(with_opportunity) + abs(mqls) + abs(with_sql)
                   + abs(within) + abs(late) + abs(unanswered) + abs(sqls) + abs(customers)) > 0
    $sql$, changed);
    RETURN NULL;
END $$;

CREATE TRIGGER leads_count_inserted AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_count_lead_days();
CREATE TRIGGER leads_count_updated AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_count_lead_days();
CREATE TRIGGER leads_count_deleted AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_count_lead_days();

-- A new SLA limit re-classifies the tenant's answered MQLs from the old limit to the new.
CREATE FUNCTION tandem_reclassify_sla() RETURNS trigger LANGUAGE plpgsql AS $$
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
    INSERT INTO lead_metric_days (tenant_id, day, sla_within, sla_late)
    SELECT tenant_id, day, sum(within), sum(late)
    FROM (
        SELECT tenant_id, (mql_at AT TIME ZONE 'UTC')::date AS day,
               (sla_response_at <= mql_at + after_limit)::int
                 - (sla_response_at <= mql_at + before_limit)::int AS within,
               (sla_response_at > mql_at + after_limit)::int
                 - (sla_response_at > mql_at + before_limit)::int AS late
        FROM leads
        WHERE tenant_id = NEW.tenant_id AND mql_at IS NOT NULL AND sla_response_at IS NOT NULL
    ) moved
    GROUP BY tenant_id, day
    HAVING sum(abs(within) + abs(late)) > 0;
    RETURN NULL;
END $$;

CREATE TRIGGER tenant_config_versions_sla AFTER INSERT ON tenant_config_versions
    FOR EACH ROW EXECUTE FUNCTION tandem_reclassify_sla();

-- The leads already there (the migration runs as the owner, who sees every tenant).
INSERT INTO lead_metric_days (
    tenant_id, day, leads_created, created_with_opportunity, mqls, mqls_with_sql,
    sla_within, sla_late, sla_unanswered, sqls, new_customers)
SELECT tenant_id, day, sum(leads_created), sum(with_opportunity), sum(mqls), sum(with_sql),
       sum(within), sum(late), sum(unanswered), sum(sqls), sum(customers)
FROM (
    SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date AS day, 1 AS leads_created,
           (opportunity_at IS NOT NULL)::int AS with_opportunity, 0 AS mqls, 0 AS with_sql,
           0 AS within, 0 AS late, 0 AS unanswered, 0 AS sqls, 0 AS customers
    FROM leads
    UNION ALL
    SELECT tenant_id, (mql_at AT TIME ZONE 'UTC')::date, 0, 0, 1, (sql_at IS NOT NULL)::int,
           coalesce((sla_response_at <= mql_at + tandem_sla_response_limit(tenant_id))::int, 0),
           coalesce((sla_response_at > mql_at + tandem_sla_response_limit(tenant_id))::int, 0),
           (sla_response_at IS NULL)::int, 0, 0
    FROM leads WHERE mql_at IS NOT NULL
    UNION ALL
    SELECT tenant_id, (sql_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 0, 0, 0, 1, 0
    FROM leads WHERE sql_at IS NOT NULL
    UNION ALL
    SELECT tenant_id, (customer_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 0, 0, 0, 0, 1
    FROM leads WHERE customer_at IS NOT NULL
) facts
GROUP BY tenant_id, day;

-- What a period reads lead by lead (its partial edge days, the SLA straddle day) and its
-- deals, answered from the index alone. Each covering index replaces a narrower one on the
-- same keys, so writers maintain no more indexes than before.
CREATE INDEX leads_mql_cover ON leads (tenant_id, mql_at)
    INCLUDE (sql_at, sla_response_at) WHERE mql_at IS NOT NULL;
DROP INDEX leads_mql;
CREATE INDEX opportunities_created_cover ON opportunities (tenant_id, created_at)
    INCLUDE (amount, status);
DROP INDEX opportunities_created;
CREATE INDEX opportunities_closed_cover ON opportunities (tenant_id, closed_at)
    INCLUDE (status, won_amount, fit_grade_at_win, created_at) WHERE closed_at IS NOT NULL;
DROP INDEX opportunities_closed;

-- Merges each tenant's day rows into one per day once it has gathered more than
-- `p_slack` extra rows. Runs as the owner because it spans tenants; it moves counts
-- within a tenant and returns only how many tenants it merged.
CREATE FUNCTION tandem_compact_lead_metric_days(p_slack integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    t text;
    merged integer := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('lead_metric_days:compaction')) THEN
        RETURN 0;
    END IF;
    FOR t IN
        SELECT tenant_id FROM lead_metric_days
        GROUP BY tenant_id HAVING count(*) > count(DISTINCT day) + p_slack
    LOOP
        WITH gone AS (DELETE FROM lead_metric_days WHERE tenant_id = t RETURNING *)
        INSERT INTO lead_metric_days (
            tenant_id, day, leads_created, created_with_opportunity, mqls, mqls_with_sql,
            sla_within, sla_late, sla_unanswered, sqls, new_customers)
        SELECT tenant_id, day, sum(leads_created), sum(created_with_opportunity), sum(mqls),
               sum(mqls_with_sql), sum(sla_within), sum(sla_late), sum(sla_unanswered),
               sum(sqls), sum(new_customers)
        FROM gone
        GROUP BY tenant_id, day
        HAVING sum(abs(leads_created) + abs(created_with_opportunity) + abs(mqls)
                   + abs(mqls_with_sql) + abs(sla_within) + abs(sla_late)
                   + abs(sla_unanswered) + abs(sqls) + abs(new_customers)) > 0;
        merged := merged + 1;
    END LOOP;
    RETURN merged;
END $$;
REVOKE ALL ON FUNCTION tandem_compact_lead_metric_days(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tandem_compact_lead_metric_days(integer) TO tandem_app;
