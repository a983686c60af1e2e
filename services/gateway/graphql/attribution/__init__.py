"""GraphQL: attribution reports of SPEC 5."""
