"""Local stand-ins for the services Tandem calls out to (webhook receivers, HubSpot,
Salesforce): real HTTP servers on loopback that check what the real ones check."""
