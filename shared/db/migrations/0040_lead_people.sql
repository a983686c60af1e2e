-- Leads as people: the name shown for a lead and the text a search looks in, computed by
-- the database from the lead's traits, so every writer of `leads` keeps them right without
-- knowing of them and the gateway reads one definition.
--
-- The name: a `name` trait, else first and last name (HubSpot's `firstname`/`lastname`
-- or `first_name`/`last_name`), else the email's local part when it reads as a name
-- ("ada.lovelace7" → "Ada Lovelace"; "info" or "jd-l0042" give none, and the email is shown).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- The tenant leads the search indexes, so a search reads only its tenant's entries.
CREATE EXTENSION IF NOT EXISTS btree_gin;

ALTER TABLE leads ADD COLUMN person_name text GENERATED ALWAYS AS (
    coalesce(
        nullif(btrim(traits->>'name'), ''),
        nullif(btrim(
            coalesce(traits->>'first_name', traits->>'firstname', '') || ' ' ||
            coalesce(traits->>'last_name', traits->>'lastname', '')
        ), ''),
        CASE WHEN split_part(traits->>'email', '@', 1) ~* '^[a-z]{2,}([._-][a-z]{2,})+[0-9]*$'
             THEN initcap(regexp_replace(regexp_replace(
                 split_part(traits->>'email', '@', 1), '[0-9]+$', ''), '[._-]', ' ', 'g'))
        END
    )
) STORED;

-- Id, email, name, company and domain, lower case: what `leads(search:)` matches a
-- substring of, through the trigram index.
ALTER TABLE leads ADD COLUMN search_text text GENERATED ALWAYS AS (
    lower(
        lead_id || ' ' ||
        coalesce(traits->>'email', '') || ' ' ||
        coalesce(traits->>'name', '') || ' ' ||
        coalesce(traits->>'first_name', traits->>'firstname', '') || ' ' ||
        coalesce(traits->>'last_name', traits->>'lastname', '') || ' ' ||
        coalesce(traits->>'company', traits->>'company_name', '') || ' ' ||
        coalesce(traits->>'company_domain', split_part(traits->>'email', '@', 2), '')
    )
) STORED;

CREATE INDEX leads_search ON leads USING gin (tenant_id, search_text gin_trgm_ops);
-- The name read from an email ("Ada Lovelace" of ada.lovelace@) is searched as shown.
CREATE INDEX leads_name_search ON leads USING gin (tenant_id, (lower(person_name)) gin_trgm_ops);
-- The sortable columns of the leads list, each with the id as tie-breaker (keyset pages).
CREATE INDEX leads_by_name ON leads (tenant_id, (lower(coalesce(person_name, ''))), lead_id);
CREATE INDEX leads_by_score ON leads (tenant_id, score, lead_id);
CREATE INDEX leads_by_created ON leads (tenant_id, created_at, lead_id);
