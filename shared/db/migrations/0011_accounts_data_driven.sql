-- SPEC 17: accounts (the buying committee of a company) and the fitted data-driven
-- attribution model.

-- One row per account, recomputed from its members' current lead rows whenever one of them
-- changes, so a replay or a late event leaves it as an in-order run would.
CREATE TABLE accounts (
    tenant_id            text NOT NULL,
    account_id           text NOT NULL,
    domain               text,
    members              integer NOT NULL,
    fit_score            integer NOT NULL,
    fit_grade            text NOT NULL,
    fit_evidence         jsonb NOT NULL DEFAULT '[]',
    engagement_score     integer NOT NULL,
    stage                text NOT NULL,
    stage_rank           integer NOT NULL,
    open_opportunity_id  text,
    traits               jsonb NOT NULL DEFAULT '{}',
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id)
);
CREATE INDEX accounts_engagement ON accounts (tenant_id, engagement_score DESC, account_id);
CREATE INDEX accounts_grade_stage ON accounts (tenant_id, fit_grade, stage, account_id);
CREATE INDEX accounts_domain ON accounts (tenant_id, domain) WHERE domain IS NOT NULL;

-- Which account each lead belongs to: its own account_id, else the account of its
-- company_domain trait.
CREATE TABLE account_members (
    tenant_id   text NOT NULL,
    lead_id     text NOT NULL,
    account_id  text NOT NULL,
    PRIMARY KEY (tenant_id, lead_id)
);
CREATE INDEX account_members_account ON account_members (tenant_id, account_id, lead_id);

-- The Markov chain fitted per tenant and kind (PIPELINE or REVENUE): removal effects as
-- {channel: effect}, transitions as [[from, to, probability], ...].
CREATE TABLE data_driven_models (
    tenant_id        text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('PIPELINE', 'REVENUE')),
    refreshed_at     timestamptz NOT NULL,
    paths            integer NOT NULL,
    conversions      integer NOT NULL,
    removal_effects  jsonb NOT NULL,
    transitions      jsonb NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

SELECT tandem_protect(t) FROM unnest(ARRAY[
    'accounts', 'account_members', 'data_driven_models'
]::regclass[]) AS t;
