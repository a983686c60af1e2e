"""GraphQL: leads per stage."""
