"""The image under a restored writable layer must be the one it was made on.

An overlay upper directory only makes sense on top of the exact layers it was created over (it
holds whiteouts and copied-up files relative to them). A backup that includes the writable
layer records the image's reference and digest; the restoring runner pins that digest -- from
its store if the tag still points there, else by pulling ``name@digest`` -- or refuses to start
rather than stack the layer on different content.
"""

from roost.core.errors import PermanentError, RoostError
from roost.core.schemas.backups import Backup
from roost.runner.images import Image
from roost.runner.images.refs import format_ref, normalize_ref
from roost.runner.reconciler import ImageSource
from roost.runner.state import LocalEnv


async def pin_image(images: ImageSource, local: LocalEnv, backup: Backup) -> None:
    """Point ``local`` at the image the backup's writable layer was made on."""
    if not backup.image_digest or local.image_digest == backup.image_digest:
        return
    image = await images.get(backup.image_ref)
    if image is None or image.digest != backup.image_digest:
        image = await _pull_digest(images, backup)
    local.image_ref = image.ref
    local.image_digest = image.digest
    local.layers = [str(p) for p in image.layers]
    local.image_env = list(image.config.env)
    local.working_dir = image.config.working_dir or "/"


async def _pull_digest(images: ImageSource, backup: Backup) -> Image:
    try:
        host, repo, _ = normalize_ref(backup.image_ref)
        image = await images.pull(format_ref(host, repo, backup.image_digest))
    except (RoostError, OSError, ValueError) as exc:
        raise PermanentError(
            f"the backup's writable layer was made on image {backup.image_ref} "
            f"({backup.image_digest[:19]}), which this runner cannot get ({exc}); import that "
            "image on this runner, or start the environment where it is"
        ) from exc
    if image.digest != backup.image_digest:
        raise PermanentError(
            f"image {image.ref} has digest {image.digest}, not {backup.image_digest}"
        )
    return image
