"""Wire schemas: the JSON documents the plane, runners and the CLI exchange.

Two bases:

* :class:`Input` (``extra="forbid"``) for everything a client writes -- specs and request bodies --
  so that a mistyped key is an error, not silence.
* :class:`Output` (``extra="ignore"``) for documents a client reads, so that an older CLI or
  runner keeps working when a newer plane adds a field.
"""
