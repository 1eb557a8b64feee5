"""The ``sandbox`` runtime: the container bundle under gVisor (``runsc``, ptrace platform), for
code that must not meet the host kernel directly.

Under crun, the environment's processes make system calls to the host kernel, filtered by
namespaces, capabilities and seccomp. Under gVisor they never do: the Sentry, a kernel written
in Go running as an unprivileged host process, implements Linux's system calls itself (the ptrace
platform intercepts every call), and reaches the host only through a small, seccomp-confined set
of its own calls and through the gofer, which opens files for it. A kernel bug reachable from
the environment is then a Sentry bug first. Costs: ~0.2 s more per start, slow system calls, and
gaps in Linux compatibility (``docs/security.md`` lists the ones that matter here).

Modules: ``driver`` (the :class:`SandboxDriver`), ``runsc`` (the command line), ``bundle`` (the
container bundle as gVisor needs it), ``launcher`` and ``roost-exec.c`` (every ``runsc exec``
under the seccomp profile), ``hoststack`` (silencing the netns's own stack), ``hidenet`` (a
runsc 20221219 workaround for newer kernels).
"""
