"""Tandem's domain rules: pure functions over a lead's ordered events and a tenant's config.

Nothing in this package performs I/O; the stream workers feed it decoded events and store
what it returns.
"""
