"""Plane control loops: level-triggered, idempotent, database-leased (see :mod:`.lease`)."""
