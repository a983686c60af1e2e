-- The read model the stream workers project into and the API serves.

-- Every applied lead event, in arrival order (seq). The primary key is the idempotency key
-- of SPEC 2.4: a redelivered event finds its row and changes nothing.
CREATE TABLE events (
    tenant_id       text NOT NULL,
    event_id        text NOT NULL,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    type            text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    lead_id         text,
    anonymous_id    text,
    account_id      text,
    channel         text,
    campaign_id     text,
    content_id      text,
    message_id      text,
    properties      jsonb NOT NULL DEFAULT '{}',
    stitched        boolean NOT NULL DEFAULT false,
    config_version  integer NOT NULL DEFAULT 0,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX events_lead ON events (tenant_id, lead_id, occurred_at, seq);
CREATE INDEX events_held_anonymous ON events (tenant_id, anonymous_id) WHERE lead_id IS NULL;

-- anonymous_id → lead, set by the first identify that names the pair.
CREATE TABLE identities (
    tenant_id     text NOT NULL,
    anonymous_id  text NOT NULL,
    lead_id       text NOT NULL,
    linked_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, anonymous_id)
);

CREATE TABLE spend (
    tenant_id    text NOT NULL,
    event_id     text NOT NULL,
    campaign_id  text NOT NULL,
    channel      text NOT NULL,
    amount       numeric NOT NULL,
    occurred_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX spend_time ON spend (tenant_id, occurred_at);

CREATE TABLE leads (
    tenant_id              text NOT NULL,
    lead_id                text NOT NULL,
    account_id             text,
    stage                  text NOT NULL,
    highest_stage          text NOT NULL,
    fit_score              integer NOT NULL,
    fit_grade              text NOT NULL,
    disqualified           boolean NOT NULL,
    engagement_score       integer NOT NULL,
    score                  integer NOT NULL,
    matrix                 text NOT NULL,
    created_at             timestamptz NOT NULL,
    engaged_at             timestamptz,
    mql_at                 timestamptz,
    sql_at                 timestamptz,
    opportunity_at         timestamptz,
    customer_at            timestamptz,
    first_touch_channel    text,
    traits                 jsonb NOT NULL DEFAULT '{}',
    fit_evidence           jsonb NOT NULL DEFAULT '[]',
    engagement_evidence    jsonb NOT NULL DEFAULT '[]',
    last_event_at          timestamptz NOT NULL,
    scored_at              timestamptz NOT NULL,
    sla_response_at        timestamptz,
    sla_response_type      text,
    sla_disposition_at     timestamptz,
    last_sales_activity_at timestamptz,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, lead_id)
);
CREATE INDEX leads_created ON leads (tenant_id, created_at);
CREATE INDEX leads_mql ON leads (tenant_id, mql_at) WHERE mql_at IS NOT NULL;
CREATE INDEX leads_sql ON leads (tenant_id, sql_at) WHERE sql_at IS NOT NULL;
CREATE INDEX leads_customer ON leads (tenant_id, customer_at) WHERE customer_at IS NOT NULL;
CREATE INDEX leads_stage ON leads (tenant_id, stage, lead_id);

CREATE TABLE stage_transitions (
    tenant_id   text NOT NULL,
    lead_id     text NOT NULL,
    ordinal     integer NOT NULL,
    from_stage  text,
    to_stage    text NOT NULL,
    at          timestamptz NOT NULL,
    event_id    text NOT NULL,
    reason      text NOT NULL,
    PRIMARY KEY (tenant_id, lead_id, ordinal)
);

CREATE TABLE opportunities (
    tenant_id         text NOT NULL,
    opportunity_id    text NOT NULL,
    lead_id           text NOT NULL,
    amount            numeric NOT NULL,
    status            text NOT NULL,
    stage             text,
    created_at        timestamptz NOT NULL,
    closed_at         timestamptz,
    won_amount        numeric,
    lost_reason       text,
    competitor        text,
    fit_grade_at_win  text,
    last_activity_at  timestamptz,
    PRIMARY KEY (tenant_id, opportunity_id)
);
CREATE INDEX opportunities_created ON opportunities (tenant_id, created_at);
CREATE INDEX opportunities_closed ON opportunities (tenant_id, closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX opportunities_lead ON opportunities (tenant_id, lead_id);

CREATE TABLE attribution_credits (
    tenant_id       text NOT NULL,
    lead_id         text NOT NULL,
    opportunity_id  text NOT NULL,
    kind            text NOT NULL,
    model           text NOT NULL,
    touch_event_id  text,
    channel         text,
    campaign_id     text,
    content_id      text,
    message_id      text,
    fraction        double precision NOT NULL,
    amount          double precision NOT NULL,
    converted_at    timestamptz NOT NULL
);
CREATE INDEX attribution_report ON attribution_credits (tenant_id, model, kind, converted_at);
CREATE INDEX attribution_lead ON attribution_credits (tenant_id, lead_id);

SELECT tandem_protect(t) FROM unnest(ARRAY[
    'events', 'identities', 'spend', 'leads', 'stage_transitions', 'opportunities',
    'attribution_credits'
]::regclass[]) AS t;
