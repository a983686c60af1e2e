-- SPEC 7: every SLA breach the worker's clock detected, and whether its alert went out.
--
-- A row is written once per (lead, limit, MQL) when the deadline passes without an answer in
-- time, and never changes but for emitted_at; the primary key makes detection idempotent
-- across sweeps and workers. emitted_at stays NULL until alerts.v1 acknowledged the alert,
-- so a worker that dies in between sends it again after a restart.
CREATE TABLE sla_breaches (
    tenant_id    text NOT NULL,
    lead_id      text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('RESPONSE', 'DISPOSITION')),
    mql_at       timestamptz NOT NULL,
    deadline     timestamptz NOT NULL,
    detected_at  timestamptz NOT NULL,
    emitted_at   timestamptz,
    PRIMARY KEY (tenant_id, lead_id, kind, mql_at)
);
-- openBreaches pages newest deadline first.
CREATE INDEX sla_breaches_newest ON sla_breaches (tenant_id, deadline DESC, lead_id DESC, kind DESC);
-- The alerts still to send: few rows, read on every sweep.
CREATE INDEX sla_breaches_unemitted ON sla_breaches (tenant_id) WHERE emitted_at IS NULL;
SELECT tandem_protect('sla_breaches');
