"""The migration engine: steps, checks and their order (no Textual here)."""
