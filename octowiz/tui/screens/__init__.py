"""One screen per step (and the dialogs they use)."""
