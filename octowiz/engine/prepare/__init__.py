"""Prepare: connect, scan for differences, measure connectivity, compare users and pools."""
