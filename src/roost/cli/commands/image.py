"""``roost image``: the image store of the runner on this host.

Images are a runner's cache, so these commands work on the runner's data directory directly
(default ``/var/lib/roost/runner``, the same one ``roost up`` uses), as root on the runner host.
They are safe to run while the runner runs: the store locks what it writes.
"""

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from roost.cli.commands.serve import default_data_dir
from roost.cli.output import OUTPUT_OPTION, show

if TYPE_CHECKING:
    from roost.runner.images import Image, ImageStore

DATA_DIR = click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None,
    help="The runner's data directory (default: /var/lib/roost/runner).",
)  # fmt: skip


def _store(data_dir: Path | None, insecure: tuple[str, ...] = ()) -> "ImageStore":
    from roost.runner.images import ImageStore  # noqa: PLC0415 - keep other commands fast

    root = (data_dir or default_data_dir() / "runner") / "images"
    return ImageStore(root, insecure_registries=insecure)


def _row(image: "Image") -> list[object]:
    return [image.ref, image.digest[:19], len(image.layers), f"{image.size / 1e6:.1f} MB"]


HEADERS = ["REF", "DIGEST", "LAYERS", "SIZE"]


def _doc(image: "Image") -> dict[str, object]:
    return {"ref": image.ref, "digest": image.digest, "layers": [str(p) for p in image.layers],
            "size": image.size}  # fmt: skip


@click.group("image")
def image() -> None:
    """Images on this runner host: pull, import, list, build-base."""


@image.command("pull")
@click.argument("ref")
@click.option("--insecure-registry", "insecure", multiple=True, help="Use plain HTTP for it.")
@DATA_DIR
@OUTPUT_OPTION
def pull(ref: str, insecure: tuple[str, ...], data_dir: Path | None, output: str) -> None:
    """Pull REF from its registry (only missing layers are downloaded)."""
    img = asyncio.run(_store(data_dir, insecure).pull(ref))
    show(_doc(img), output, [_row(img)], HEADERS)


@image.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--name", "ref", required=True, help="Reference to store it under.")
@DATA_DIR
@OUTPUT_OPTION
def import_(path: Path, ref: str, data_dir: Path | None, output: str) -> None:
    """Import an OCI layout, a docker archive or a rootfs tarball."""
    img = asyncio.run(_store(data_dir).import_path(path, ref))
    show(_doc(img), output, [_row(img)], HEADERS)


@image.command("list")
@DATA_DIR
@OUTPUT_OPTION
def list_(data_dir: Path | None, output: str) -> None:
    """List the images in this machine's runner image store."""
    images = _store(data_dir).list()
    show([_doc(i) for i in images], output, [_row(i) for i in images], HEADERS)


@image.command("build-base")
@click.option(
    "--name", "ref", default=None, help="Reference (default: the runner's default image)."
)
@click.option("--mirror", default=None, help="Debian mirror (default: the host's apt source).")
@DATA_DIR
@OUTPUT_OPTION
def build_base(ref: str | None, mirror: str | None, data_dir: Path | None, output: str) -> None:
    """Build a Debian image with mmdebstrap; it becomes the default image."""
    from roost.runner.images import DEFAULT_IMAGE  # noqa: PLC0415

    click.echo(f"building {ref or DEFAULT_IMAGE} with mmdebstrap (about a minute)...", err=True)
    img = asyncio.run(_store(data_dir).build_base(ref or DEFAULT_IMAGE, mirror=mirror))
    show(_doc(img), output, [_row(img)], HEADERS)
