"""The content catalog of SPEC 8: items linked to messages, with influence."""
