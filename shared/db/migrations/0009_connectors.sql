-- Connector settings per tenant (SPEC 14): whether a connector is on, its secret, and the
-- mappings that turn its payloads into Tandem events. Written by admins through GraphQL,
-- read by the gateway's connector endpoints.
--
-- Secrets: `secret_hash` (SHA-256) where comparing is enough (Salesforce's shared secret);
-- `secret` in clear only where the gateway must compute an HMAC with it (HubSpot's app
-- client secret). The API never returns either: it says only whether one is set and when
-- it was last rotated.
CREATE TABLE connector_settings (
    tenant_id          text NOT NULL REFERENCES tenants,
    connector          text NOT NULL CHECK (connector IN ('segment', 'hubspot', 'salesforce')),
    enabled            boolean NOT NULL DEFAULT true,
    secret             text,
    secret_hash        bytea,
    secret_rotated_at  timestamptz,
    -- Overrides merged onto the documented defaults (docs/connectors.md); keys by connector.
    mappings           jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(mappings) = 'object'),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    updated_by         text NOT NULL,
    PRIMARY KEY (tenant_id, connector)
);

SELECT tandem_protect('connector_settings');

-- Which lead a CRM object belongs to (a HubSpot deal, a Salesforce opportunity), learned
-- from association events or the object's own contact field: deal events name no contact.
CREATE TABLE connector_links (
    tenant_id    text NOT NULL REFERENCES tenants,
    connector    text NOT NULL,
    object_type  text NOT NULL,
    object_id    text NOT NULL,
    lead_id      text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connector, object_type, object_id)
);

-- Mapped events of an object whose lead is not known yet. Kept, not dropped: the batch
-- that brings the link publishes them with the lead and deletes them here.
CREATE TABLE connector_parked (
    tenant_id    text NOT NULL REFERENCES tenants,
    connector    text NOT NULL,
    object_type  text NOT NULL,
    object_id    text NOT NULL,
    event_id     text NOT NULL,
    event        jsonb NOT NULL,
    parked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connector, event_id)
);
CREATE INDEX connector_parked_object ON connector_parked (tenant_id, connector, object_type, object_id);

SELECT tandem_protect('connector_links');
SELECT tandem_protect('connector_parked');
