"""native placeholder (being built)."""
