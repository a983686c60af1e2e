"""The delivery service (SPEC 15): derived topics → signed webhooks, Slack messages, CRM sync."""
