"""GraphQL: the metrics of SPEC 6 and source quality."""
