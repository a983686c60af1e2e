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
