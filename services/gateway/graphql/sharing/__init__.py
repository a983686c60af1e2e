"""Share links of dashboard pages, and what a shared view may show (SPEC 19)."""
