"""Simulated traffic: realistic, deterministic journeys for the demo tenant (`tandem demo`),
the tests and the bench. Not imported by any service; it uses shared/ only."""
