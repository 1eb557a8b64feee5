"""Git repository addresses a user may give: checked on the plane, classified on the runner.

git understands more than URLs: ``transport::address`` runs a remote helper (``ext::`` runs a
command), and an address starting with ``-`` is read as an option. So a repository address is
one of a few plain shapes -- ``https://``, ``http://``, ``ssh://``, ``git://``, scp-like
``user@host:path``, or a *local* one (an absolute path or ``file://``) -- with no whitespace or
control characters, and bounded in length.

Local addresses name files on the runner host. Runners refuse them unless their admin allows
them (``allow_local_repos``: the single-machine ``roost up`` does), and even then clone them as
an unprivileged uid (:mod:`roost.runner.sandbox`), so only what any local user could read.
"""

import re

MAX_LENGTH = 2000
SCHEMES = ("https://", "http://", "ssh://", "git://", "file://")
SCP_LIKE = re.compile(r"^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:[^:]")
"""``git@github.com:user/repo.git`` (no ``::``: that would be a remote helper)."""


def is_local(url: str) -> bool:
    """An address that names files on the runner host."""
    return url.startswith(("/", "file://"))


def check(url: str) -> str:
    """``url`` if git may be given it, else ValueError saying which shapes are accepted."""
    if len(url) > MAX_LENGTH:
        raise ValueError(f"a repository address is at most {MAX_LENGTH} characters")
    if url.startswith("-") or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError("a repository address has no leading '-', spaces or control characters")
    if url.startswith(SCHEMES) or url.startswith("/") or SCP_LIKE.match(url):
        return url
    raise ValueError(
        "not a repository address git may be given: use https://, ssh://, git://, "
        "user@host:path, or (runners that allow it) an absolute path or file://"
    )
