"""GraphQL: leads, their transitions and opportunities."""
