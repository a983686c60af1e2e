-- Share links: chosen dashboard pages, read-only and live, for anyone holding the link
-- (a TV on the sales floor, a Monday.com board, a wiki). The token is kept only as its
-- SHA-256; revoking a link or reaching its expiry stops it, open live views included.
CREATE TABLE share_links (
    tenant_id   text NOT NULL REFERENCES tenants,
    link_id     text NOT NULL,
    token_hash  bytea NOT NULL,
    pages       text[] NOT NULL CHECK (cardinality(pages) >= 1),
    expires_at  timestamptz NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    PRIMARY KEY (tenant_id, link_id),
    -- every key names the tenant (a read model distributed by tenant keeps them); a
    -- token is looked up before its tenant is known, through the index below
    UNIQUE (tenant_id, token_hash)
);
CREATE INDEX share_links_by_token ON share_links (token_hash);

-- Which sites may show the tenant's shared pages in a frame (CSP frame-ancestors).
CREATE TABLE share_settings (
    tenant_id        text PRIMARY KEY REFERENCES tenants,
    frame_ancestors  text[] NOT NULL DEFAULT '{}',
    updated_by       text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

SELECT tandem_protect(t) FROM unnest(ARRAY['share_links', 'share_settings']::regclass[]) AS t;

-- A share token is presented before any tenant is known: like tandem_authenticate, this
-- returns only the matching live link's tenant, id, pages and the tenant's frame ancestors.
CREATE FUNCTION tandem_share_authenticate(p_hash bytea)
RETURNS TABLE (tenant_id text, link_id text, pages text[], frame_ancestors text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT l.tenant_id, l.link_id, l.pages, coalesce(s.frame_ancestors, '{}')
    FROM share_links l LEFT JOIN share_settings s ON s.tenant_id = l.tenant_id
    WHERE l.token_hash = p_hash AND l.revoked_at IS NULL AND l.expires_at > now()
$$;

GRANT EXECUTE ON FUNCTION tandem_share_authenticate(bytea) TO tandem_app;
