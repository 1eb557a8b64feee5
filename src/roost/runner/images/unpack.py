"""Unpacking one layer blob into a directory, verifying its diff id on the way.

The pipeline is ``decompressor | python | tar``::

    gzip -dc / zstd -dc (or the file itself)  ->  sha256 + byte count  ->  GNU tar -x

Python sits in the middle only to hash the uncompressed stream: the sha256 of it is the layer's
*diff id*, which the image config promises, and checking it is what makes ``layers/<diff id>``
trustworthy. The compression is sniffed from the blob's magic bytes rather than taken from the
media type, which some registries get wrong. All of this is blocking and runs in a worker thread.

**Why GNU tar and not Python's tarfile.** tarfile cannot restore xattrs at all, and file
capabilities (``security.capability``, e.g. on ``ping``) live there. GNU tar does all a container
layer needs: numeric ownership, modes with setuid bits, hard links, device nodes, xattrs. It is
faster too: a 250 MB, 10k-entry Debian layer unpacks in 0.73 s, against 1.13 s for tarfile with
no filter at all (measured on this machine type). And tarfile's safe ``data`` filter drops just
what layers need (devices, setuid bits, ownership), so it would need a hand-written filter.

**Why this is safe against hostile layers.** Every layer unpacks into its own fresh, empty
directory, so no symlink from another layer can be in the way; what remains is the archive
attacking itself, and GNU tar's defaults (without ``--absolute-names``) handle that:

* leading ``/`` is stripped from member and hard-link names; a member or hard-link target with
  ``..`` is refused (tar exits 2 and we reject the layer);
* a symlink whose target is absolute or has ``..`` is extracted as a placeholder file and made a
  symlink only when everything else is done, so ``evil -> /etc`` followed by ``evil/passwd``
  fails (the placeholder is not a directory) instead of writing to ``/etc/passwd``.

Overlay xattrs inside a layer (``trusted.overlay.*``, ``user.overlay.*``) are not restored: they
would let a layer fake whiteouts or redirects. Any tar error rejects the whole layer, and the
temp directory is removed by the caller.
"""

import contextlib
import ctypes
import hashlib
import io
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from roost.runner.images.errors import ImageError
from roost.runner.images.whiteouts import convert_whiteouts

Compression = Literal["gzip", "zstd", "none"]
_CHUNK = 1 << 20
_BLOCK = 512
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class Unpacked:
    diff_id: str
    size: int
    """Bytes of the uncompressed tar: close to the disk the layer takes."""


def sniff_compression(path: Path) -> Compression:
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head == _ZSTD_MAGIC:
        return "zstd"
    return "none"


def unpack_layer(blob: Path, dest: Path, expected_diff_id: str | None, what: str) -> Unpacked:
    """Unpack ``blob`` into ``dest`` (which must not exist) and convert its whiteouts.

    Raises ImageError if tar refuses the archive or the diff id is not ``expected_diff_id``.
    Blocking: run it in a thread.
    """
    dest.mkdir(mode=0o755)
    with tempfile.TemporaryFile() as tar_errors, tempfile.TemporaryFile() as unzip_errors:
        tar = subprocess.Popen(
            _tar_argv(dest), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=tar_errors
        )
        try:
            with decompressed(blob, unzip_errors, what) as stream:
                diff_id, size = _pump(stream, pipe(tar.stdin))
        finally:
            _close_quietly(pipe(tar.stdin))  # tar must see EOF or it never exits
            returncode = tar.wait()
        if returncode != 0:
            raise ImageError(f"{what} is corrupt or unsafe; tar said: {_tail(tar_errors)}")
    if expected_diff_id is not None and diff_id != expected_diff_id:
        raise ImageError(f"{what} unpacks to diff id {diff_id}, not {expected_diff_id} as promised")
    convert_whiteouts(dest)
    sync_filesystem(dest)
    return Unpacked(diff_id=diff_id, size=size)


def _tar_argv(dest: Path) -> list[str]:
    owner = "--same-owner" if os.geteuid() == 0 else "--no-same-owner"
    return [
        "tar",
        "--extract",
        "--file=-",
        f"--directory={dest}",
        "--numeric-owner",
        owner,
        "--preserve-permissions",
        "--xattrs",
        "--xattrs-include=*",
        "--xattrs-exclude=trusted.overlay.*",
        "--xattrs-exclude=user.overlay.*",
    ]


@contextmanager
def decompressed(
    blob: Path, errors: IO[bytes], what: str, *, check: bool = True
) -> Iterator[IO[bytes]]:
    """The uncompressed bytes of ``blob`` as a stream. With ``check``, a decompressor failure
    raises ImageError on exit (turn it off to stop reading early: that kills the decompressor)."""
    compression = sniff_compression(blob)
    if compression == "none":
        with blob.open("rb") as f:
            yield f
        return
    argv = (
        ["gzip", "-dc", "--", str(blob)]
        if compression == "gzip"
        else ["zstd", "-dcq", "--", str(blob)]
    )
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors)
    except FileNotFoundError as e:
        raise ImageError(
            f"{what} is {compression}-compressed and '{argv[0]}' is not installed"
        ) from e
    stdout = pipe(proc.stdout)
    try:
        yield stdout
    finally:
        stdout.close()
        returncode = proc.wait()
    if check and returncode != 0:
        raise ImageError(f"{what} is not valid {compression} data: {_tail(errors)}")


def _pump(source: IO[bytes], sink: IO[bytes]) -> tuple[str, int]:
    """Copy ``source`` into ``sink`` hashing every byte; if tar stops reading early (an error,
    or the end-of-archive marker before trailing padding) keep reading so the hash covers the
    whole stream.

    Some writers (umoci 0.4) end a layer right after the last file's data, without the block
    padding and end-of-archive marker. Go's tar reader, and so docker and containerd, accept
    that; GNU tar calls it an unexpected EOF. So a stream that does not end on a 512-byte block
    gets the missing padding and marker (not hashed: they are not part of the layer).
    """
    hasher = hashlib.sha256()
    size = 0
    sink_open = True
    # read1 hands over whatever the decompressor has produced; read() would wait for a full
    # chunk while tar starves, and the three processes would take turns instead of overlapping
    # (measured: 2.3 s instead of 1.5 s for a 96 MB gzip layer).
    read = source.read1 if isinstance(source, io.BufferedReader) else source.read
    while chunk := read(_CHUNK):
        hasher.update(chunk)
        size += len(chunk)
        sink_open = sink_open and _write(sink, chunk)
    if size % _BLOCK and sink_open:
        _write(sink, bytes(_BLOCK - size % _BLOCK + 2 * _BLOCK))
    _close_quietly(sink)
    return "sha256:" + hasher.hexdigest(), size


def _write(sink: IO[bytes], chunk: bytes) -> bool:
    """Write to tar; False once tar has stopped reading."""
    try:
        sink.write(chunk)
    except BrokenPipeError:
        return False
    return True


def _close_quietly(sink: IO[bytes]) -> None:
    with contextlib.suppress(BrokenPipeError):  # tar is gone; its exit status says why
        sink.close()


def pipe(stream: IO[bytes] | None) -> IO[bytes]:
    """A Popen pipe we asked for (typed as optional by subprocess)."""
    if stream is None:
        raise RuntimeError("subprocess pipe missing")
    return stream


def _tail(stream: IO[bytes], limit: int = 600) -> str:
    stream.seek(0)
    text = stream.read().decode(errors="replace").strip()
    return text[-limit:] or "(no message)"


_libc = ctypes.CDLL(None, use_errno=True)


def sync_filesystem(path: Path) -> None:
    """``syncfs(2)`` the filesystem holding ``path``: one call instead of an fsync per file, so a
    layer renamed into place after this survives a power cut with its content."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if int(_libc.syncfs(fd)) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), str(path))
    finally:
        os.close(fd)
