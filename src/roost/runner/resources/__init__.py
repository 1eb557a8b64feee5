"""An environment's limits at work: applying them (:mod:`.apply`), naming OOM kills
(:mod:`.oom`) and reporting both in the ``resources`` condition (:mod:`.report`).

The limits themselves are enforced by the kernel, set up by the container driver (cgroups),
the CPU loop (``runner/cpu``), the disks (``runner/disks``) and the network (``shaping.py``,
``egress.py``); ``docs/resources.md`` has the whole picture.
"""
