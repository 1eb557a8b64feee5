"""Backups: stop and start that keep the work, on any runner.

    step.py        the reconciler hooks: restore before start, back up + release after stop
    background.py  periodic backups while running, retries, deletions after retention
    engine.py      one backup or restore, in the order that keeps work safe
    views.py       idmapped views, so backups store ids relative to the environment
    restic.py      the engine: restic as a subprocess (throttled, lock-aware)
    verify.py      a backup counts only after this
    journal.py     per-environment crash-safe state on this runner
    errors.py      what went wrong, in words a user can act on
    settings.py    where backups go (a directory or S3), limits, intervals
    images.py      a restored writable layer gets the image it was made on
    failpoints.py  named places where tests make the runner die

The plane keeps the record of verified backups and the repositories' keys
(``roost.server.services.backups``); ``docs/architecture.md`` ("Backups") has the whole story.
"""
