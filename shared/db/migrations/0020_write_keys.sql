-- A Segment write key is public by design (it sits in a web page): it gets its own role,
-- which the gateway accepts on the Segment-compatible endpoints only.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('admin', 'marketing', 'sales', 'viewer', 'ingest', 'write_key'));
