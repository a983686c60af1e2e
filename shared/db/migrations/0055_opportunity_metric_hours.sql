-- Opportunities are counted per UTC hour as leads are (migration 0054): what `metrics`
-- sums over the opportunities created or closed in a period comes from
-- opportunity_metric_hours for the period's whole hours, and from the opportunities
-- themselves for its two partial hours.
--
-- A 90-day query of a tenant with 13,626 opportunities read 11,458 of them (created in the
-- period, a sequential scan: 3.8 to 5.2 ms) and 3,647 more (closed in it: 2.9 to 3.6 ms),
-- the largest part of the query once leads were counted by hour. The closing cycle's mean
-- and median still read the deals won in the period, a third of those closed, through an
-- index of their own: a median is not a sum.

-- No opportunity is written between the count below and the new triggers.
LOCK TABLE opportunities IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE opportunity_metric_hours (
    tenant_id                     text NOT NULL,
    hour                          timestamptz NOT NULL,
    opportunities_created         integer NOT NULL DEFAULT 0,  -- by created_at
    pipeline_amount               numeric NOT NULL DEFAULT 0,  -- by created_at
    opportunities_created_won     integer NOT NULL DEFAULT 0,  -- by created_at, WON now
    deals_won                     integer NOT NULL DEFAULT 0,  -- by closed_at, as below
    deals_lost                    integer NOT NULL DEFAULT 0,
    revenue                       numeric NOT NULL DEFAULT 0,
    revenue_from_target_accounts  numeric NOT NULL DEFAULT 0   -- won with fit grade A
);
CREATE INDEX opportunity_metric_hours_hour ON opportunity_metric_hours (tenant_id, hour);
SELECT tandem_protect('opportunity_metric_hours');
ALTER TABLE opportunity_metric_hours SET (autovacuum_analyze_threshold = 200);

-- What a period reads deal by deal: the deals won in it, for the cycle's mean and median.
CREATE INDEX opportunities_won ON opportunities (tenant_id, closed_at) INCLUDE (created_at)
    WHERE status = 'WON' AND closed_at IS NOT NULL;

-- The facts of one version of an opportunity row, `sign` 1 counted in, -1 counted out.
CREATE TYPE tandem_opportunity_facts AS (
    tenant_id         text,
    sign              integer,
    created_at        timestamptz,
    amount            numeric,
    status            text,
    closed_at         timestamptz,
    won_amount        numeric,
    fit_grade_at_win  text
);

CREATE FUNCTION tandem_count_opportunity_hours() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed tandem_opportunity_facts[];
BEGIN
    -- As tandem_count_lead_hours: each branch names only its trigger's transition tables,
    -- and an update counts only the row versions that differ in what is counted.
    IF TG_OP = 'INSERT' THEN
        changed := ARRAY(
            SELECT ROW(tenant_id, 1, created_at, amount, status, closed_at, won_amount,
                       fit_grade_at_win)::tandem_opportunity_facts
            FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        changed := ARRAY(
            SELECT ROW(tenant_id, -1, created_at, amount, status, closed_at, won_amount,
                       fit_grade_at_win)::tandem_opportunity_facts
            FROM old_rows);
    ELSE
        changed := ARRAY(
            SELECT ROW(tenant_id, 1, created_at, amount, status, closed_at, won_amount,
                       fit_grade_at_win)::tandem_opportunity_facts
            FROM (SELECT tenant_id, created_at, amount, status, closed_at, won_amount,
                         fit_grade_at_win FROM new_rows
                  EXCEPT ALL
                  SELECT tenant_id, created_at, amount, status, closed_at, won_amount,
                         fit_grade_at_win FROM old_rows) moved_in
            UNION ALL
            SELECT ROW(tenant_id, -1, created_at, amount, status, closed_at, won_amount,
                       fit_grade_at_win)::tandem_opportunity_facts
            FROM (SELECT tenant_id, created_at, amount, status, closed_at, won_amount,
                         fit_grade_at_win FROM old_rows
                  EXCEPT ALL
                  SELECT tenant_id, created_at, amount, status, closed_at, won_amount,
                         fit_grade_at_win FROM new_rows) moved_out);
    END IF;
    IF cardinality(changed) = 0 THEN
        RETURN NULL;
    END IF;
    WITH c AS (
        SELECT * FROM unnest(changed)
    ),
    facts AS (
        SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour,
               sign AS created, sign * amount AS pipeline,
               CASE WHEN status = 'WON' THEN sign ELSE 0 END AS created_won,
               0 AS won, 0 AS lost, 0::numeric AS revenue, 0::numeric AS target_revenue
        FROM c
        UNION ALL
        SELECT tenant_id, date_trunc('hour', closed_at, 'UTC'), 0, 0, 0,
               CASE WHEN status = 'WON' THEN sign ELSE 0 END,
               CASE WHEN status = 'LOST' THEN sign ELSE 0 END,
               CASE WHEN status = 'WON' THEN sign * coalesce(won_amount, 0) ELSE 0 END,
               CASE WHEN status = 'WON' AND fit_grade_at_win = 'A'
                    THEN sign * coalesce(won_amount, 0) ELSE 0 END
        FROM c WHERE closed_at IS NOT NULL
    )
    INSERT INTO opportunity_metric_hours (
        tenant_id, hour, opportunities_created, pipeline_amount, opportunities_created_won,
        deals_won, deals_lost, revenue, revenue_from_target_accounts)
    SELECT tenant_id, hour, sum(created), sum(pipeline), sum(created_won), sum(won),
           sum(lost), sum(revenue), sum(target_revenue)
    FROM facts
    GROUP BY tenant_id, hour
    HAVING sum(abs(created)) + sum(abs(pipeline)) + sum(abs(created_won)) + sum(abs(won))
           + sum(abs(lost)) + sum(abs(revenue)) + sum(abs(target_revenue)) > 0;
    RETURN NULL;
END $$;

CREATE TRIGGER opportunities_count_inserted AFTER INSERT ON opportunities
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_count_opportunity_hours();
CREATE TRIGGER opportunities_count_updated AFTER UPDATE ON opportunities
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_count_opportunity_hours();
CREATE TRIGGER opportunities_count_deleted AFTER DELETE ON opportunities
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_count_opportunity_hours();

-- The opportunities already there (the migration runs as the owner, who sees every tenant).
INSERT INTO opportunity_metric_hours (
    tenant_id, hour, opportunities_created, pipeline_amount, opportunities_created_won,
    deals_won, deals_lost, revenue, revenue_from_target_accounts)
SELECT tenant_id, hour, sum(created), sum(pipeline), sum(created_won), sum(won), sum(lost),
       sum(revenue), sum(target_revenue)
FROM (
    SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour, 1 AS created,
           amount AS pipeline, (status = 'WON')::int AS created_won, 0 AS won, 0 AS lost,
           0::numeric AS revenue, 0::numeric AS target_revenue
    FROM opportunities
    UNION ALL
    SELECT tenant_id, date_trunc('hour', closed_at, 'UTC'), 0, 0, 0, (status = 'WON')::int,
           (status = 'LOST')::int,
           CASE WHEN status = 'WON' THEN coalesce(won_amount, 0) ELSE 0 END,
           CASE WHEN status = 'WON' AND fit_grade_at_win = 'A' THEN coalesce(won_amount, 0)
                ELSE 0 END
    FROM opportunities WHERE closed_at IS NOT NULL
) facts
GROUP BY tenant_id, hour;

-- Merges each tenant's hour rows into one per hour, as tandem_compact_lead_metric_hours.
CREATE FUNCTION tandem_compact_opportunity_metric_hours(p_slack integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    t text;
    merged integer := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('opportunity_metric_hours:compaction')) THEN
        RETURN 0;
    END IF;
    FOR t IN
        SELECT tenant_id FROM opportunity_metric_hours
        GROUP BY tenant_id HAVING count(*) > count(DISTINCT hour) + p_slack
    LOOP
        WITH gone AS (DELETE FROM opportunity_metric_hours WHERE tenant_id = t RETURNING *)
        INSERT INTO opportunity_metric_hours (
            tenant_id, hour, opportunities_created, pipeline_amount,
            opportunities_created_won, deals_won, deals_lost, revenue,
            revenue_from_target_accounts)
        SELECT tenant_id, hour, sum(opportunities_created), sum(pipeline_amount),
               sum(opportunities_created_won), sum(deals_won), sum(deals_lost), sum(revenue),
               sum(revenue_from_target_accounts)
        FROM gone
        GROUP BY tenant_id, hour
        HAVING sum(abs(opportunities_created)) + sum(abs(pipeline_amount))
               + sum(abs(opportunities_created_won)) + sum(abs(deals_won))
               + sum(abs(deals_lost)) + sum(abs(revenue))
               + sum(abs(revenue_from_target_accounts)) > 0;
        merged := merged + 1;
    END LOOP;
    RETURN merged;
END $$;
REVOKE ALL ON FUNCTION tandem_compact_opportunity_metric_hours(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tandem_compact_opportunity_metric_hours(integer) TO tandem_app;
