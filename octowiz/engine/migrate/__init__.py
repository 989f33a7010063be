"""Migrate: plan waves, export and import them, fill the gaps Export/Import leaves, verify."""
