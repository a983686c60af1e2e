"""`viewer`: the tenant and role of the request's credential, so a frontend knows what to offer."""
