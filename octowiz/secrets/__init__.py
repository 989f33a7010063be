"""API keys in the OS keyring (never in a file octowiz writes)."""

from octowiz.secrets.keystore import BackendStatus, KeyStore, KeyStoreError, backend_status, env_key

__all__ = ["BackendStatus", "KeyStore", "KeyStoreError", "backend_status", "env_key"]
