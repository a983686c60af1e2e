-- Leads without an account, by the domain they name: when an account appears or goes for a
-- domain, the worker looks up that domain's unassigned leads, which without this index meant
-- reading every unassigned lead of the tenant for each batch that changed a domain.
CREATE INDEX leads_unassigned_domain ON leads (tenant_id, lower(btrim(traits->>'company_domain')))
    WHERE account_id IS NULL;
