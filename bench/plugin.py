"""greenbench pytest plugin (being built)."""
