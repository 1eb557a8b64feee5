"""The ``roost`` command line: a thin client of the plane's API, plus the commands that run the
plane (``roost server``), a runner (``roost runner``) or both (``roost up``)."""
