"""Connectors in (SPEC 14): Segment-compatible intake, HubSpot and Salesforce webhooks.

Mapping modules are pure (`*_mapping.py`); endpoints live beside them; `routes` lists
every endpoint for the gateway app."""
