"""Ports and adapters: one sub-package per role (db, cache, search, storage, …)."""
