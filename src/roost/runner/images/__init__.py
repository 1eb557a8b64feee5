"""Container images for the runner: pulled, imported or built, stored once, stacked by overlay.

Images come from OCI registries (distribution API, token auth), from files (OCI layouts, docker
archives, rootfs tarballs) or are built here from Debian packages (mmdebstrap), so Roost works
with no registry at all. Blobs are kept content-addressed; each layer is unpacked once into its
own directory with whiteouts converted for overlayfs, and images that share a layer share its
directory, its disk and its page cache. ``store.py`` draws the layout on disk; the error tree is
in ``errors.py``.

Typical use::

    store = ImageStore(Path("/var/lib/roost/images"), insecure_registries=["registry.lan:5000"])
    image = await store.ensure("localhost:5000/busybox")       # get, else pull
    lowerdir = ":".join(str(p) for p in reversed(image.layers))   # overlay wants top first
"""

from roost.runner.images.base import DEFAULT_PACKAGES
from roost.runner.images.errors import ImageError, ImageUnavailable
from roost.runner.images.image import DEFAULT_IMAGE, Image, ImageConfig
from roost.runner.images.refs import canonical_ref, format_ref, normalize_ref
from roost.runner.images.store import Collected, ImageStore

__all__ = [
    "DEFAULT_IMAGE",
    "DEFAULT_PACKAGES",
    "Collected",
    "Image",
    "ImageConfig",
    "ImageError",
    "ImageStore",
    "ImageUnavailable",
    "canonical_ref",
    "format_ref",
    "normalize_ref",
]
