-- SPEC 15: outbound webhooks and CRM sync.
--
-- A webhook subscribes a URL to event types. The delivery service turns each derived-topic
-- message into one delivery per matching webhook; the (tenant, webhook, event) key makes a
-- re-read of a topic harmless. A delivery is PENDING until an attempt gets a 2xx
-- (DELIVERED) or its retry window runs out (FAILED); next_attempt_at is both its retry time
-- and its lease while an attempt is in flight, so a delivery process that dies mid-attempt
-- leaves the delivery to be retried, never lost.

CREATE TABLE webhooks (
    tenant_id        text NOT NULL REFERENCES tenants,
    webhook_id       text NOT NULL,
    url              text NOT NULL,
    event_types      text[] NOT NULL CHECK (cardinality(event_types) > 0),
    secret           text NOT NULL,
    slack_format     boolean NOT NULL DEFAULT false,
    -- lead.score_changed fires when a lead's score moved at least this much since the last
    -- score this webhook was told about.
    score_threshold  integer NOT NULL DEFAULT 10 CHECK (score_threshold BETWEEN 1 AND 200),
    enabled          boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, webhook_id)
);

CREATE TABLE webhook_deliveries (
    tenant_id        text NOT NULL,
    delivery_id      text NOT NULL,
    webhook_id       text NOT NULL,
    -- The event's id, the same on every attempt and for every webhook (the receivers'
    -- de-duplication key).
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    -- The exact bytes every attempt sends and signs.
    body             text NOT NULL,
    status           text NOT NULL DEFAULT 'PENDING'
                     CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts         integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_status_code integer,
    last_error       text,
    completed_at     timestamptz,
    PRIMARY KEY (tenant_id, delivery_id),
    UNIQUE (tenant_id, webhook_id, event_id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_newest ON webhook_deliveries
    (tenant_id, webhook_id, created_at DESC, delivery_id DESC);

CREATE TABLE webhook_attempts (
    tenant_id    text NOT NULL,
    delivery_id  text NOT NULL,
    attempt      integer NOT NULL CHECK (attempt >= 1),
    started_at   timestamptz NOT NULL,
    status_code  integer,
    latency_ms   integer NOT NULL,
    error        text,
    PRIMARY KEY (tenant_id, delivery_id, attempt),
    FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries ON DELETE CASCADE
);

-- The last score each webhook was told about per lead (lead.score_changed thresholds).
CREATE TABLE webhook_score_marks (
    tenant_id   text NOT NULL,
    webhook_id  text NOT NULL,
    lead_id     text NOT NULL,
    score       integer NOT NULL,
    PRIMARY KEY (tenant_id, webhook_id, lead_id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks ON DELETE CASCADE
);

-- CRM sync: one row per tenant and CRM. base_url NULL means the vendor's public API (or
-- the deployment-wide override). field_map maps Tandem fields to CRM property names;
-- id_trait names the lead trait holding the CRM record id.
CREATE TABLE crm_connections (
    tenant_id    text NOT NULL REFERENCES tenants,
    provider     text NOT NULL CHECK (provider IN ('hubspot', 'salesforce')),
    enabled      boolean NOT NULL DEFAULT true,
    base_url     text,
    token        text NOT NULL,
    object_type  text NOT NULL DEFAULT 'contacts',
    id_trait     text NOT NULL,
    field_map    jsonb NOT NULL,
    api_version  text NOT NULL DEFAULT 'v60.0',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, provider)
);

-- What the CRM holds per lead, as last written: only changed values are sent again.
CREATE TABLE crm_synced (
    tenant_id  text NOT NULL,
    provider   text NOT NULL,
    lead_id    text NOT NULL,
    record_id  text NOT NULL,
    fields     jsonb NOT NULL,
    synced_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, provider, lead_id),
    FOREIGN KEY (tenant_id, provider) REFERENCES crm_connections ON DELETE CASCADE
);

-- The sync's work list, filled from lead-state.v1 in the same transaction that records the
-- topic's webhook deliveries: a lead stays here until the CRM acknowledged its values, so
-- the sync resumes where it stopped. The (queued_at, lead_id) order is its cursor.
CREATE TABLE crm_pending (
    tenant_id  text NOT NULL,
    provider   text NOT NULL,
    lead_id    text NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, provider, lead_id),
    FOREIGN KEY (tenant_id, provider) REFERENCES crm_connections ON DELETE CASCADE
);
CREATE INDEX crm_pending_order ON crm_pending (tenant_id, provider, queued_at, lead_id);

SELECT tandem_protect(t) FROM unnest(ARRAY[
    'webhooks', 'webhook_deliveries', 'webhook_attempts', 'webhook_score_marks',
    'crm_connections', 'crm_synced', 'crm_pending'
]::regclass[]) AS t;

-- The delivery service serves every tenant. These return which tenants (and webhooks) have
-- work, never a row's content; the work itself runs in a transaction bound to its tenant.
CREATE FUNCTION tandem_due_webhooks(p_limit integer)
RETURNS TABLE (tenant_id text, webhook_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT DISTINCT d.tenant_id, d.webhook_id FROM webhook_deliveries d
    WHERE d.status = 'PENDING' AND d.next_attempt_at <= now()
    LIMIT p_limit
$$;

CREATE FUNCTION tandem_webhook_tenants(p_event_type text)
RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT DISTINCT w.tenant_id FROM webhooks w
    WHERE w.enabled AND p_event_type = ANY (w.event_types)
$$;

CREATE FUNCTION tandem_crm_pending()
RETURNS TABLE (tenant_id text, provider text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT DISTINCT p.tenant_id, p.provider FROM crm_pending p
$$;

-- Totals for the delivery service's metrics: counts and the oldest pending age only.
CREATE FUNCTION tandem_delivery_backlog()
RETURNS TABLE (pending bigint, retrying bigint, oldest_pending timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT count(*), count(*) FILTER (WHERE d.attempts > 0), min(d.created_at)
    FROM webhook_deliveries d WHERE d.status = 'PENDING'
$$;

GRANT EXECUTE ON FUNCTION tandem_due_webhooks(integer), tandem_webhook_tenants(text),
    tandem_crm_pending(), tandem_delivery_backlog() TO tandem_app;
