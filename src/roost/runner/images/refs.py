"""Image references, normalized the way docker does it.

A reference is ``[registry/]repository[:tag][@digest]``:

* The first path component is a registry host when it contains ``.`` or ``:``, is
  ``localhost``, or has upper-case letters; otherwise the registry is ``docker.io``, and a
  one-component repository there lives under ``library/`` (``busybox`` is
  ``docker.io/library/busybox:latest``).
* The tag defaults to ``latest``. A digest pins the content, so when both are given the digest
  wins and the tag is dropped (it would only be a comment).

``normalize_ref`` returns ``(registry, repository, tag-or-digest)``; ``format_ref`` puts them
back together, so ``format_ref(*normalize_ref(x))`` is the canonical spelling used as the key of
the local store. Only ``sha256`` digests are accepted: it is the only algorithm registries use in
practice, and the content store is addressed by it.
"""

import re

from roost.runner.images.errors import ImageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
LOCAL_REGISTRY = "roost.local"
"""Images under this name were built or imported locally; there is no registry to pull from."""

_DOMAIN = re.compile(
    r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$"
)
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^\w[\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def normalize_ref(ref: str) -> tuple[str, str, str]:
    """``"busybox"`` -> ``("docker.io", "library/busybox", "latest")``; raises ImageError."""
    name, _, digest = ref.strip().partition("@")
    if digest and not _DIGEST.match(digest):
        raise _invalid(ref, f"'{digest}' is not a sha256 digest")
    host, path = _split_host(name)
    repo, tag = _split_tag(path)
    _check_repo(ref, repo)
    if tag is not None and not _TAG.match(tag):
        raise _invalid(ref, f"'{tag}' is not a valid tag")
    if host == DOCKER_HUB and "/" not in repo:
        repo = f"library/{repo}"
    return host, repo, digest or tag or "latest"


def format_ref(host: str, repo: str, tag_or_digest: str) -> str:
    sep = "@" if is_digest(tag_or_digest) else ":"
    return f"{host}/{repo}{sep}{tag_or_digest}"


def canonical_ref(ref: str) -> str:
    """The spelling the store keys images by, e.g. ``docker.io/library/debian:12``."""
    return format_ref(*normalize_ref(ref))


def is_digest(value: str) -> bool:
    return _DIGEST.match(value) is not None


def check_digest(digest: str, what: str) -> str:
    """Return the hex part of a sha256 digest taken from untrusted input, or raise ImageError.

    Digests become file names in the store, so this is also what keeps ``../`` out of paths.
    """
    if not _DIGEST.match(digest):
        raise ImageError(f"{what} has an invalid or unsupported digest '{digest[:80]}'")
    return digest.removeprefix("sha256:")


def api_host(host: str) -> str:
    """The host name that serves the registry API (Docker Hub's differs from its name)."""
    return DOCKER_HUB_API if host == DOCKER_HUB else host


def is_insecure(host: str, insecure_registries: frozenset[str]) -> bool:
    """Plain HTTP for loopback registries and those the operator listed (with or without port)."""
    bare = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return bare in _LOOPBACK or host in insecure_registries or bare in insecure_registries


def _split_host(name: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    is_host = slash and (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    )
    if not is_host:
        return DOCKER_HUB, name
    if not _DOMAIN.match(first):
        raise _invalid(name, f"'{first}' is not a valid registry host")
    return ("docker.io" if first == "index.docker.io" else first), rest


def _split_tag(path: str) -> tuple[str, str | None]:
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        return path[:colon], path[colon + 1 :]
    return path, None


def _check_repo(ref: str, repo: str) -> None:
    if not repo:
        raise _invalid(ref, "the repository name is empty")
    if len(repo) > 255:
        raise _invalid(ref, "the repository name is longer than 255 characters")
    for component in repo.split("/"):
        if not _PATH_COMPONENT.match(component):
            raise _invalid(
                ref, f"'{component}' is not a valid name component (lower-case a-z, 0-9, . _ -)"
            )


def _invalid(ref: str, why: str) -> ImageError:
    return ImageError(f"invalid image reference '{ref}': {why}")
