"""What can go wrong with a backup, in words a user can act on.

restic reports failures as text on stderr; :func:`classify` turns that text into a
:class:`BackupError` with a stable ``kind``, which decides what happens next:

    kind            retried?                    what the status says
    locked          yes, with backoff           another backup or clean-up holds the repository
    unreachable     yes, with backoff           the repository cannot be reached
    plane           yes, with backoff           the plane cannot be reached (not the repository)
    elsewhere       no                          the backup is at a location this runner lacks
    disk            yes (after a repair)        the environment's disk failed: not backed up
    full            yes, after the user acts    the backup target is full
    corrupted       no: the backup is unusable  "backup corrupted", which snapshot, what to do
    missing         no                          the expected snapshot is not in the repository
    password        no                          the repository's key does not match the plane's
    not_installed   no (until restic is)        how to install restic
    incomplete      yes                         some files could not be read
    failed          yes                         restic's own words

In every case the previous verified backup is untouched: restic never changes a snapshot it
wrote, and Roost forgets a snapshot only after a newer one is verified.
"""

from roost.core.errors import RoostError

RETRYABLE = frozenset({"locked", "unreachable", "plane", "full", "incomplete", "failed", "disk"})

_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("locked", ("repository is already locked",)),
    ("full", ("no space left on device", "disk quota exceeded", "file too large")),
    ("password", ("wrong password or no key found",)),
    (
        "corrupted",
        (
            "ciphertext verification failed",
            "hash mismatch",
            "hash does not match",
            "invalid data returned",
            "decrypting",
            "unexpected end of",
            "load(<data/",
            "is damaged",
        ),
    ),
    ("missing", ("no matching id found", "no snapshot found")),
    ("unreachable", ("is there a repository at the following location", "connection refused")),
)


class BackupError(RoostError):
    """A backup, verification, restore or clean-up that did not succeed."""

    code = "backup_failed"

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message, code=f"backup_{kind}")
        self.kind = kind

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


def classify(stderr: str, exit_code: int, what: str) -> BackupError:
    """The error for a failed restic command (``what``: "backup", "restore", ...)."""
    text = stderr.lower()
    detail = _last_lines(stderr)
    for kind, needles in _PATTERNS:
        if any(n in text for n in needles):
            return BackupError(kind, f"{what} failed: {detail}")
    if exit_code == 3:
        return BackupError("incomplete", f"{what} could not read some files: {detail}")
    return BackupError("failed", f"{what} failed (restic exit {exit_code}): {detail}")


def _last_lines(stderr: str, limit: int = 400) -> str:
    """restic's last meaningful lines (its progress chatter and 'Fatal:' prefix removed)."""
    lines = [
        line.strip().removeprefix("Fatal: ")
        for line in stderr.splitlines()
        if line.strip() and not line.startswith("[")
    ]
    text = "; ".join(lines[-3:]) or "no message"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def explain(error: BackupError, *, location: str, previous: str | None) -> str:
    """The status message for ``error``: what happened, what is safe, what to do."""
    kept = (
        f"the previous backup {previous[:8]} is intact" if previous else "no earlier backup exists"
    )
    advice = {
        "full": f"the backup target {location} is full: free space there or grow it",
        "corrupted": "backup corrupted: restic found data that does not match its checksum",
        "missing": "the expected backup is missing from the repository",
        "password": "the repository's password does not match the plane's key for it",
        "not_installed": "restic is not installed on this runner: apt-get install restic",
        "locked": "the repository is busy (locked by another backup or clean-up)",
        "unreachable": f"the backup repository {location} cannot be reached",
        "plane": "the plane cannot be reached (the backup repository was not the problem)",
    }.get(error.kind, "")
    head = f"{advice} ({error.message})" if advice else error.message
    return f"{head}; {kept}"
