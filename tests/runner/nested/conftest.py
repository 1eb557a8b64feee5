from tests.runner.conftest import busybox_full, debian_base, registry, sample_images
from tests.support.engine_image import engine_image

__all__ = ["busybox_full", "debian_base", "engine_image", "registry", "sample_images"]
