-- Privacy (SPEC 10) and the keys Citus needs to distribute every tenant table by tenant_id.

-- The people a tenant erased: a lead, or an anonymous id that was linked to one. The worker
-- drops any later event of a suppressed subject, so a replay or a late event cannot bring
-- the person back. Only a SHA-256 of the id is kept: the list itself names nobody.
CREATE TABLE erased_subjects (
    tenant_id     text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('lead', 'anonymous')),
    subject_hash  bytea NOT NULL CHECK (length(subject_hash) = 32),
    erased_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind, subject_hash)
);
SELECT tandem_protect('erased_subjects');

-- api_keys was keyed by key_id and key_hash alone. Both are random, so they stay unique in
-- practice with the tenant in the key; the plain indexes keep the lookups by hash (the
-- credential check, before any tenant is known) and by key id (revocation) fast.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_pkey;
ALTER TABLE api_keys ADD PRIMARY KEY (tenant_id, key_id);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_key_hash_key;
ALTER TABLE api_keys ADD UNIQUE (tenant_id, key_hash);
CREATE INDEX api_keys_hash ON api_keys (key_hash);
CREATE INDEX api_keys_key_id ON api_keys (key_id);
