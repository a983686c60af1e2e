"""GraphQL: the SLA report of SPEC 7 and the open breaches the worker's clock recorded."""
