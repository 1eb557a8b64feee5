"""Runtime drivers: how an environment's processes are isolated (``container`` on crun,
``sandbox`` on gVisor, ``fake`` for tests). The reconciler talks only to :class:`RuntimeDriver`."""
