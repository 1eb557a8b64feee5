"""Automations: services and tasks from ``.roost/automations.yaml`` (or Gitpod Flex's
``.gitpod/automations.yaml``), run inside environments by the runner.

``config`` parses the file, ``process`` runs commands inside an environment, ``manager`` keeps
one environment's states and processes, ``step`` fires the start triggers and reports the
``automations`` condition, ``routes`` serves ``roost env automations / task / service``.
"""
