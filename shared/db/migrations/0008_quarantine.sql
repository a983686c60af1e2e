-- Per-tenant quarantine (SPEC 11). A tenant whose events fail in a burst is quarantined:
-- the workers park its further events here instead of applying them, and every other
-- tenant keeps flowing. `tandem quarantine release` lifts it; `replay` sends the parked
-- events back to the touchpoint topic and removes them once Kafka has them.
CREATE TABLE quarantined_tenants (
    tenant_id   text PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    since       timestamptz NOT NULL DEFAULT now(),
    failures    integer NOT NULL,
    window_size integer NOT NULL,
    last_error  text NOT NULL
);

-- One row per parked event, keyed by where it was read, so parking a redelivered record
-- again is a no-op. The payload is the event's bytes as received: content that PostgreSQL
-- could not take as JSON is kept all the same.
CREATE TABLE parked_events (
    tenant_id   text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint NOT NULL,
    idx         integer NOT NULL,  -- position in an array record; -1 for a one-event record
    payload     bytea NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, topic, partition, "offset", idx)
);

SELECT tandem_protect('quarantined_tenants');
SELECT tandem_protect('parked_events');

-- The workers check every batch against the quarantined tenants without knowing them in
-- advance; like tandem_known_tenants(), this names tenants and nothing else.
CREATE FUNCTION tandem_quarantined_tenants() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT tenant_id FROM quarantined_tenants
$$;
GRANT EXECUTE ON FUNCTION tandem_quarantined_tenants() TO tandem_app;
