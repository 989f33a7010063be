"""Cut over: targets and workers on Cloud (Tentacle second instances, other kinds by REST), health,
the build server, a test deployment, and disabling the Server's copy with its rollback."""
