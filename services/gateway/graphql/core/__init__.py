"""What every GraphQL domain package shares: the request context and its per-request loader
registry, error codes, scalars, periods, Relay pagination and cursors, permissions, the
versioned library (messages, content), the enums and the Lead node several domains return,
and the hub of live lead changes.

The rule: a domain package (leads, metrics, sla, ...) imports from `core` and never from
another domain package; `core` imports no domain package. What two domains both need moves
here."""
