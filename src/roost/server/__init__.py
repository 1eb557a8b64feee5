"""The management plane: HTTP API (``api``) → services → store, plus control loops."""
