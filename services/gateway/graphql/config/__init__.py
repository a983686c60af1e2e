"""GraphQL: the tenant configuration and its mutations."""
