"""Nested-containers mode: Docker and Podman inside an environment, without host privilege.

The class allows it (``Resources.nested_containers``); the environment or its devcontainer.json
asks for it (``mode.py``). The bundle then grants the engine's capabilities, devices, seccomp
profile, writable cgroup view and engine storage, all inside the environment's own user
namespace (``runtime/container/bundle.py``, ``delegate.py``); this package does the rest once
the container runs (``step.py``):

* ``netwire``: the environment's processes live in a network namespace owned by its user
  namespace (so root inside can make bridges, nftables rules and namespaces for its
  containers), joined by a veth to the runner-made namespace, owned by the host, which keeps the
  address on the runner's bridge, the bandwidth caps and the egress policy;
* ``engine``: starts ``dockerd`` when the image has one, and reports the ``containers``
  condition -- ready, or what the host lacks.
"""
