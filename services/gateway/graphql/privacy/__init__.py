"""`eraseLead`: an admin erases one person (SPEC 10)."""
