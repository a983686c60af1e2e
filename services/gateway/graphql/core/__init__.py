"""What every GraphQL domain package shares: the request context and its per-request loader
registry, error codes, scalars, periods, Relay pagination and cursors, permissions, limits,
the enums several domains' types use, the overview fields' shared answers and the hub of
live lead changes.

The rule: a domain package (leads, metrics, sla, ...) imports from `core` (and `nodes`, the
domain types several of them return) and never from another domain package; `core` imports
no domain package and not `nodes`. What two domains both need moves to `nodes`, or here
when it is no domain type."""
