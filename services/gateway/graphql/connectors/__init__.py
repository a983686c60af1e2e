"""Connector settings through GraphQL (admin only)."""
