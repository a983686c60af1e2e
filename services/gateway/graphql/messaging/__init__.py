"""The messaging library of SPEC 8: messages with version history and influence."""
