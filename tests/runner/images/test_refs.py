import pytest

from roost.runner.images import ImageError, canonical_ref, format_ref, normalize_ref
from roost.runner.images.refs import is_insecure

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("busybox", ("docker.io", "library/busybox", "latest")),
        ("busybox:1.36", ("docker.io", "library/busybox", "1.36")),
        ("library/debian:12", ("docker.io", "library/debian", "12")),
        ("someone/tool", ("docker.io", "someone/tool", "latest")),
        ("index.docker.io/someone/tool", ("docker.io", "someone/tool", "latest")),
        ("localhost/x", ("localhost", "x", "latest")),
        ("localhost:5000/x", ("localhost:5000", "x", "latest")),
        ("localhost:5000/a/b:v1", ("localhost:5000", "a/b", "v1")),
        ("127.0.0.1:5000/busybox:latest", ("127.0.0.1:5000", "busybox", "latest")),
        ("[::1]:5000/busybox", ("[::1]:5000", "busybox", "latest")),
        ("ghcr.io/org/img:sha-1", ("ghcr.io", "org/img", "sha-1")),
        ("Registry/img", ("Registry", "img", "latest")),
        ("roost.local/base:bookworm", ("roost.local", "base", "bookworm")),
        (f"busybox@{DIGEST}", ("docker.io", "library/busybox", DIGEST)),
        (f"reg.io/x:tag@{DIGEST}", ("reg.io", "x", DIGEST)),
    ],
)
def test_normalize(ref: str, expected: tuple[str, str, str]) -> None:
    assert normalize_ref(ref) == expected


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "UPPER",
        "a//b",
        "x:",
        "x:bad tag",
        "-x",
        "x@sha256:short",
        "x@md5:" + "0" * 32,
        "bad_host:port/x",
        "reg.io/" + "a" * 256,
    ],
)
def test_invalid_refs_are_image_errors(ref: str) -> None:
    with pytest.raises(ImageError, match="invalid image reference"):
        normalize_ref(ref)


def test_format_and_canonical() -> None:
    assert (
        format_ref("docker.io", "library/busybox", "latest") == "docker.io/library/busybox:latest"
    )
    assert format_ref("r", "x", DIGEST) == f"r/x@{DIGEST}"
    assert canonical_ref("busybox") == "docker.io/library/busybox:latest"
    assert canonical_ref("localhost:5000/x") == "localhost:5000/x:latest"


@pytest.mark.parametrize(
    ("host", "listed", "insecure"),
    [
        ("localhost:5000", (), True),
        ("127.0.0.1:41000", (), True),
        ("[::1]:5000", (), True),
        ("registry.lan:5000", (), False),
        ("registry.lan:5000", ("registry.lan:5000",), True),
        ("registry.lan:5000", ("registry.lan",), True),
        ("docker.io", (), False),
    ],
)
def test_plain_http_only_for_loopback_and_listed(
    host: str, listed: tuple[str, ...], insecure: bool
) -> None:
    assert is_insecure(host, frozenset(listed)) is insecure
