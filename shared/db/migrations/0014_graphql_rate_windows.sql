-- GraphQL rate limits per tenant and credential that hold in total across gateway replicas
-- (SPEC 10): one counter per fixed window, to which each replica adds the small allowance
-- it reserves (services/gateway/limits.py). Rows of windows an hour old are deleted by the
-- reservations themselves.
CREATE TABLE graphql_rate_windows (
    tenant_id     text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    credential    text NOT NULL,  -- key:<key id>, a JWT subject, or jwt#<token digest>
    window_start  timestamptz NOT NULL,
    reserved      integer NOT NULL,  -- operations reserved by replicas, granted or not
    PRIMARY KEY (tenant_id, credential, window_start)
);
SELECT tandem_protect('graphql_rate_windows');
