"""Roost: self-hosted development environments without Kubernetes.

Layers (checked by import-linter, see ``docs/architecture.md``)::

    roost.cli                      command line, ``roost up``
    roost.server | roost.runner    management plane | host agent
    roost.core                     wire schemas, errors, ids, clock

The server and the runner share only :mod:`roost.core`.
"""

__version__ = "0.1.0"
