"""Webhook subscriptions and their deliveries (SPEC 15), for admins."""
