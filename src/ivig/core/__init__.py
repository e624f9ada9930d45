"""The pure clinical core: no web, database, CLI or environment (see ``ivig`` for the API)."""
