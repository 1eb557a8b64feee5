"""The CPU policy: a fair share and a burst budget per environment. Pure: no I/O, no clock.

Every tick (``TICK_SECONDS``) the loop measures how much CPU each environment used and decides
how much it may use until the next tick. Three quantities, per environment *i*:

* **weight** ``w`` -- its class's CPUs (``Resources.cpu``).
* **share** ``s = w * scale``: what it is guaranteed. ``scale = min(1, C / W)`` where *C* is the
  host's CPUs and *W* the summed weight of the *active* environments (those that used at least
  ``ACTIVE_CPU`` in the last ``ACTIVE_HOLD_SECONDS``). Idle environments do not dilute anyone:
  500 sleeping environments of class 2 on a 2-CPU host still leave a lone compile its whole
  class. A shell that wakes for a keystroke now and then counts: it is entitled to its class.
* **budget** ``b`` (CPU-seconds), a token bucket: ``b += (s - used) * dt``, kept within
  ``[0, BURST_SECONDS * w]``. Running below the share fills it, running above drains it.

and two actuators for the next tick:

* the **limit** (written as the CFS quota)::

      limit = min(C, s + b / TICK_SECONDS)

  With budget left the limit is the whole host (a compile, a test run, a page load burst at
  full speed); as the budget runs out the limit slides down to the share, where a sustained
  spinner stays: ``used = s`` leaves ``b`` at zero. Stopping refills the bucket at ``s`` per
  second, so an editor, a shell or a language server -- short bursts between long waits --
  never meets the limit. A spinner using *k* CPUs above its share reaches its share after
  ``BURST_SECONDS * w / k`` seconds (4 s for class 2 on two CPUs next to another active
  environment: share 1, two CPUs used).
* the **weight** (``cpu.shares``/``cpu.weight``): the class's while the environment is within
  its share; the minimum while it uses clearly more (``OVER_SHARE``) or has spent its budget,
  until it is back within its share with its bucket ``RESTORE_FRACTION`` full. A burst above the
  share is for CPU nobody else wants: a quota alone leaves the neighbours *time* but not
  *promptness* -- a spinner still runs on every CPU for the first part of each 100 ms period,
  and a neighbour's keystroke that wakes then waits behind it. At the minimum weight the
  scheduler preempts it for anyone else at once, and still lets it have CPU nobody wants
  (measured in ``docs/resources.md``).

Why a quota at all, and not only weights: a spinner would keep the whole host whenever nobody
else is running, and the issue is that its neighbours' next burst must find room. Why not a
fixed quota at the class: a fixed cap makes every burst slow (a class-1 compile would take twice
as long on two CPUs), and a small fixed quota throttles interactive work mid-keystroke.

Constants (measured with ``bench/fairness.py``; see ``docs/resources.md``):
"""

from dataclasses import dataclass

TICK_SECONDS = 0.5
"""Control period. Shorter reacts faster but costs more reads; 0.5 s brings a spinner to its
share within a few seconds at about 1 ms of runner CPU per tick for 500 environments."""

BURST_SECONDS = 2.0
"""Bucket capacity in seconds of the class's CPU: class 2 may bank 4 CPU-seconds."""

ACTIVE_CPU = 0.01
"""Usage (CPUs) from which an environment counts towards oversubscription..."""

ACTIVE_HOLD_SECONDS = 10.0
"""... for this long after it last did, so the shares do not flap with every pause."""

OVER_SHARE = 1.2
"""Using this much more than its share (or having spent its budget) demotes an environment."""

RESTORE_FRACTION = 0.25
"""A demoted environment gets its class weight back once it is within its share again and its
bucket is this full."""

MIN_LIMIT_CPU = 0.01
"""The CFS floor is 1 ms per 100 ms period."""


@dataclass(frozen=True)
class Sample:
    """One environment's last tick."""

    weight: float
    """Class CPUs."""
    used: float
    """CPUs used on average over the tick."""
    active: bool = True
    """Used ``ACTIVE_CPU`` or more within the last ``ACTIVE_HOLD_SECONDS``."""


@dataclass(frozen=True)
class Decision:
    share: float
    budget: float
    """CPU-seconds left in the bucket."""
    limit: float
    """CPUs it may use until the next tick (the CFS quota)."""
    demoted: bool = False
    """Minimum weight (the bucket ran dry and has not refilled enough yet)."""


def capacity(weight: float) -> float:
    """The bucket's size in CPU-seconds."""
    return BURST_SECONDS * weight


def scale(samples: list[Sample], cpus: float) -> float:
    """``min(1, C / W)`` over the active environments."""
    active = sum(s.weight for s in samples if s.active)
    return 1.0 if active <= cpus else cpus / active


def decide(
    sample: Sample,
    budget: float,
    factor: float,
    cpus: float,
    dt: float,
    *,
    demoted: bool = False,
) -> Decision:
    """Refill or drain the bucket with the last tick's usage, then set the next limit and
    weight (``demoted`` is the previous decision's)."""
    share = sample.weight * factor
    full = capacity(sample.weight)
    budget = min(full, max(0.0, budget + (share - sample.used) * dt))
    limit = min(cpus, share + budget / TICK_SECONDS)
    if budget <= 0.0 or sample.used > OVER_SHARE * share:
        demoted = True
    elif sample.used <= share and budget >= RESTORE_FRACTION * full:
        demoted = False
    return Decision(share, budget, max(MIN_LIMIT_CPU, limit), demoted)


def budget_from_limit(limit: float, weight: float, cpus: float) -> float:
    """The budget a limit was computed from (inverse of :func:`decide`, for a restarted runner).

    A limit at the host's size means the budget was at least enough for it: the bucket is
    taken as full. Otherwise ``limit = share + b / tick``, with the share at most the weight.
    """
    if limit >= cpus - 1e-6:
        return capacity(weight)
    return min(capacity(weight), max(0.0, (limit - weight) * TICK_SECONDS))
