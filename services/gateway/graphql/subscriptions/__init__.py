"""GraphQL: live lead changes."""
