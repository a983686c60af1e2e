-- Per-tenant intake quotas set by an operator (`tandem tenant quota`), and the events
-- counted against them per second and per UTC day, shared by every gateway replica (one
-- row per tenant, span and window; a request's count is added under the row's lock, so
-- the replicas together admit at most the quota).
CREATE TABLE tenant_quotas (
    tenant_id          text PRIMARY KEY REFERENCES tenants,
    events_per_second  integer CHECK (events_per_second > 0),
    events_per_day     bigint CHECK (events_per_day > 0),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE intake_counts (
    tenant_id     text NOT NULL REFERENCES tenants,
    span          text NOT NULL CHECK (span IN ('second', 'day')),
    window_start  timestamptz NOT NULL,
    used          bigint NOT NULL,
    PRIMARY KEY (tenant_id, span, window_start)
);

SELECT tandem_protect('tenant_quotas');
SELECT tandem_protect('intake_counts');
