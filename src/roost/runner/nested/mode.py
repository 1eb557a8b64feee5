"""Whether an environment runs in nested-containers mode.

Two ways in, both bounded by the class (``Resources.nested_containers``, checked by the plane at
create and again here, since a class can change under a running environment): the environment
asked (``spec.nested_containers``), or its devcontainer.json did (``LocalEnv.nested_containers``,
set by the devcontainer policy only when the class allowed it).
"""

from roost.core.schemas.environments import Environment
from roost.runner.state import LocalEnv


def wanted(env: Environment, local: LocalEnv) -> bool:
    if not env.spec.resources.nested_containers:
        return False
    return env.spec.nested_containers or local.nested_containers
