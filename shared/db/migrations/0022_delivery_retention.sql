-- Webhook delivery logs are kept for a retention period (TANDEM_DELIVERY_RETENTION_DAYS,
-- 30 by default) and purged by the delivery service's sweep. A purge spans every tenant, so
-- it runs as the owner, deleting only finished deliveries (their attempts go with them),
-- a bounded batch per call.
CREATE FUNCTION tandem_purge_delivery_logs(p_before timestamptz, p_limit integer)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH old AS (
        SELECT d.tenant_id, d.delivery_id FROM public.webhook_deliveries d
        WHERE d.status <> 'PENDING' AND d.completed_at < p_before
        LIMIT p_limit
    ), gone AS (
        DELETE FROM public.webhook_deliveries d USING old
        WHERE d.tenant_id = old.tenant_id AND d.delivery_id = old.delivery_id
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
GRANT EXECUTE ON FUNCTION tandem_purge_delivery_logs(timestamptz, integer) TO tandem_app;

-- Finished deliveries by age, for the purge.
CREATE INDEX webhook_deliveries_completed ON webhook_deliveries (completed_at)
    WHERE status <> 'PENDING';
