-- Erased people are remembered by keyed hashes (HMAC-SHA-256 under a key of their tenant),
-- so that the suppression list cannot be tested against guessed emails or ids by whoever
-- reads it without the key. 32 random bytes per tenant (gen_random_uuid draws from the
-- server's strong random source). Suppression entries recorded before this stay as
-- unkeyed SHA-256 and keep working.
ALTER TABLE tenants ADD COLUMN erasure_key bytea NOT NULL
    DEFAULT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');
