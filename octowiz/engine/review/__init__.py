"""Reviewing a migration read-only: what remains (remaining.py), drift on the Server (drift.py), reports."""
