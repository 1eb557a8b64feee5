"""An in-memory image source for reconciler tests."""

from pathlib import Path

from roost.core.errors import PermanentError
from roost.runner.images import Image, ImageConfig


def image(ref: str, root: Path) -> Image:
    layer = root / "layers" / ref.replace("/", "_").replace(":", "_")
    layer.mkdir(parents=True, exist_ok=True)
    config = ImageConfig(env=("LANG=C.UTF-8",), entrypoint=(), cmd=("/bin/sh",), working_dir="/",
                         user="", labels={})  # fmt: skip
    return Image(ref=ref, digest="sha256:" + "0" * 64, layers=(layer,), config=config, size=0)


class FakeImages:
    def __init__(
        self, root: Path, local: tuple[str, ...] = (), remote: tuple[str, ...] = ()
    ) -> None:
        self.root = root
        self.local = {ref: image(ref, root) for ref in local}
        self.remote = set(remote)
        self.pulls: list[str] = []

    async def get(self, ref: str) -> Image | None:
        return self.local.get(ref)

    async def pull(self, ref: str) -> Image:
        self.pulls.append(ref)
        if ref not in self.remote:
            raise PermanentError(f"image {ref!r} not found")
        self.local[ref] = image(ref, self.root)
        return self.local[ref]
