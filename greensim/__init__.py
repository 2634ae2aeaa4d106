"""greensim placeholder (being built)."""
