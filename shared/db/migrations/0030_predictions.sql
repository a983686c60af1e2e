-- SPEC 18: the predictive lead model of each tenant, versioned, and each lead's prediction.

-- One row per training run. A run below the data minimum is kept too (status
-- INSUFFICIENT_DATA, with the counts it had), so the model card can say why there is none;
-- the current model is the latest READY version.
CREATE TABLE predictive_models (
    tenant_id       text NOT NULL REFERENCES tenants,
    version         integer NOT NULL,
    status          text NOT NULL CHECK (status IN ('READY', 'INSUFFICIENT_DATA')),
    trained_at      timestamptz NOT NULL,
    labelled_leads  integer NOT NULL,
    positives       integer NOT NULL,
    auc             double precision,
    brier           double precision,
    rules_auc       double precision,
    calibration     jsonb NOT NULL DEFAULT '[]',
    -- The calibrated linear model the stream applies: features, means, scales, weights,
    -- intercept and the probability quantiles of the tenant's leads.
    model           jsonb,
    -- Fit rules and engagement points derived from the model, with their holdout AUC.
    proposal        jsonb,
    PRIMARY KEY (tenant_id, version)
);

-- Written with the lead's rows whenever the lead changes; gone with the lead.
CREATE TABLE lead_predictions (
    tenant_id      text NOT NULL,
    lead_id        text NOT NULL,
    model_version  integer NOT NULL,
    probability    double precision NOT NULL,
    percentile     integer NOT NULL,
    tier           integer NOT NULL,
    factors        jsonb NOT NULL,
    scored_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, lead_id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, lead_id) ON DELETE CASCADE
);
CREATE INDEX lead_predictions_rank ON lead_predictions (tenant_id, probability DESC, lead_id);

SELECT tandem_protect(t) FROM unnest(ARRAY[
    'predictive_models', 'lead_predictions'
]::regclass[]) AS t;
