"""The weekly review and the ICP review of SPEC 8."""
