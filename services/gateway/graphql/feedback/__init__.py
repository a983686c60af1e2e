"""The feedback loop and action items of SPEC 8."""
