"""The store against a fake registry: caching, sharing, concurrency, crash leftovers, gc."""

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from roost.runner.images import DEFAULT_IMAGE, ImageError, ImageStore
from roost.runner.images.records import record_path
from tests.runner.images.fakes import REGISTRY, FakeRegistry, Layer, TarBuilder, gzip_layer

BASE = gzip_layer(TarBuilder().file("bin/sh", b"#!", mode=0o755).file("etc/os", b"fake").bytes())
APP = gzip_layer(TarBuilder().file("app/run", b"run", mode=0o755).bytes())
DATA = gzip_layer(TarBuilder().file("data/big", b"x" * 100_000).bytes())
APP_REF = f"{REGISTRY}/team/app:1"
TOOLS_REF = f"{REGISTRY}/team/tools:1"


@pytest.fixture
def images(fake: FakeRegistry) -> FakeRegistry:
    fake.add_image("team/app", "1", [BASE, APP, DATA], Env=["A=1"], Labels={"x": "y"})
    fake.add_image("team/tools", "1", [BASE, DATA])
    return fake


def blob_counts(fake: FakeRegistry) -> Counter[str]:
    return Counter(fake.blob_gets())


async def test_pull_records_config_and_layers_bottom_first(
    store: ImageStore, images: FakeRegistry
) -> None:
    image = await store.pull(APP_REF)
    assert [p.name for p in image.layers] == [x.diff_id[7:] for x in (BASE, APP, DATA)]
    assert (image.layers[0] / "etc" / "os").read_bytes() == b"fake"
    assert image.config.env == ("A=1",)
    assert image.config.labels == {"x": "y"}
    assert image.size == sum(len(x.tar) for x in (BASE, APP, DATA))
    assert await store.get(APP_REF) == image
    assert store.list() == [image]


async def test_layer_blobs_are_dropped_once_unpacked(
    store: ImageStore, images: FakeRegistry
) -> None:
    await store.pull(APP_REF)
    kept = {p.name for p in store.blobs.directory.iterdir()}
    assert not kept & {x.digest[7:] for x in (BASE, APP, DATA)}
    assert len(kept) == 2  # the manifest and the config


async def test_pulling_a_cached_image_downloads_no_blob(
    store: ImageStore, images: FakeRegistry
) -> None:
    await store.pull(APP_REF)
    before = len(images.blob_gets())
    manifests_before = len(images.manifest_gets())
    await store.pull(APP_REF)
    assert len(images.blob_gets()) == before
    assert len(images.manifest_gets()) == manifests_before + 1  # the tag is always checked


async def test_concurrent_pulls_download_each_blob_once(
    store: ImageStore, images: FakeRegistry
) -> None:
    images.latency_s = 0.01  # let the pulls interleave
    results = await asyncio.gather(*(store.pull(APP_REF) for _ in range(4)))
    assert len({r.digest for r in results}) == 1
    counts = blob_counts(images)
    assert len(counts) == 4  # config + three layers
    assert set(counts.values()) == {1}


async def test_two_stores_on_one_root_share_work(tmp_path: Path, images: FakeRegistry) -> None:
    """Two store objects behave like two processes: only the flock files coordinate them."""
    images.latency_s = 0.01
    a = ImageStore(tmp_path / "s", transport=images.transport())
    b = ImageStore(tmp_path / "s", transport=images.transport())
    await asyncio.gather(a.pull(APP_REF), b.pull(APP_REF), a.pull(TOOLS_REF))
    assert set(blob_counts(images).values()) == {1}


async def test_images_sharing_a_layer_store_it_once(
    store: ImageStore, images: FakeRegistry
) -> None:
    app = await store.pull(APP_REF)
    tools = await store.pull(TOOLS_REF)
    assert app.layers[0] == tools.layers[0]
    assert app.layers[2] == tools.layers[1]
    layer_downloads = [p for p in images.blob_gets() if BASE.digest in p or DATA.digest in p]
    assert len(layer_downloads) == 2
    assert len(store.layers.diff_ids()) == 3


async def test_ensure_pulls_only_when_missing(store: ImageStore, images: FakeRegistry) -> None:
    first = await store.ensure(APP_REF)
    requests = len(images.requests)
    assert await store.ensure(APP_REF) == first
    assert len(images.requests) == requests  # get() answered: no network at all


async def test_get_is_none_for_unknown_broken_or_incomplete_images(
    store: ImageStore, images: FakeRegistry
) -> None:
    assert await store.get(APP_REF) is None
    image = await store.pull(APP_REF)
    path = record_path(store.root / "images", APP_REF)
    path.write_text("{ not json")
    assert await store.get(APP_REF) is None
    await store.pull(APP_REF)
    image.layers[1].rename(store.root / "elsewhere")  # a layer vanished
    assert await store.get(APP_REF) is None
    assert await store.ensure(APP_REF) == image  # and ensure repairs it


async def test_remove_untags_and_gc_collects(store: ImageStore, images: FakeRegistry) -> None:
    app = await store.pull(APP_REF)
    tools = await store.pull(TOOLS_REF)
    await store.remove(APP_REF)
    assert await store.get(APP_REF) is None
    assert app.layers[1].is_dir()  # untagged, not yet collected
    collected = await store.gc()
    assert collected.layers == (APP.diff_id,)
    assert collected.freed_bytes == len(APP.tar)
    assert not app.layers[1].exists()
    assert await store.get(TOOLS_REF) == tools
    assert collected.blobs == 2  # app's manifest and config
    with pytest.raises(ImageError, match="not in the local store"):
        await store.remove(APP_REF)


async def test_gc_removes_crash_leftovers(store: ImageStore, images: FakeRegistry) -> None:
    image = await store.pull(APP_REF)
    half_blob = store.blobs.tmp / f"{'ab' * 32}.123.dead"
    half_blob.write_bytes(b"partial")
    half_layer = store.layers.new_tmp("cd" * 32)
    (half_layer / "usr").mkdir(parents=True)
    await store.gc()
    assert not half_blob.exists()
    assert not half_layer.exists()
    assert await store.get(APP_REF) == image


async def test_half_unpacked_layer_is_never_used(store: ImageStore, images: FakeRegistry) -> None:
    # A crashed unpack leaves only a temp dir, which the next unpack of that layer clears.
    stale = store.layers.new_tmp(BASE.diff_id[7:])
    (stale / "junk").mkdir(parents=True)
    image = await store.pull(APP_REF)
    assert not stale.exists()
    assert not (image.layers[0] / "junk").exists()


async def test_failed_pull_leaves_no_record(store: ImageStore, images: FakeRegistry) -> None:
    del images.blobs[DATA.digest]
    with pytest.raises(ImageError, match="not found"):
        await store.pull(APP_REF)
    assert await store.get(APP_REF) is None
    assert store.list() == []


async def test_local_images_are_never_pulled(store: ImageStore, images: FakeRegistry) -> None:
    with pytest.raises(ImageError, match="build it with `roost image build-base`"):
        await store.ensure(DEFAULT_IMAGE)
    with pytest.raises(ImageError, match="import it"):
        await store.pull("roost.local/mine:1")
    assert images.requests == []


async def test_config_must_match_the_layers(store: ImageStore, fake: FakeRegistry) -> None:
    fake.add_image("team/app", "1", [BASE, APP])
    manifest = json.loads(fake.manifests[("team/app", "1")][1])
    manifest["layers"].pop()
    fake.add_manifest(
        "team/app", "1", "application/vnd.oci.image.manifest.v1+json", json.dumps(manifest).encode()
    )
    with pytest.raises(ImageError, match="lists 2 diff ids for 1 layers"):
        await store.pull(APP_REF)


async def test_layer_with_a_lying_diff_id_is_rejected(
    store: ImageStore, fake: FakeRegistry
) -> None:
    liar = Layer(BASE.tar + b"\0" * 512, BASE.blob, BASE.media_type)  # blob does not match
    fake.add_image("team/app", "1", [liar])
    with pytest.raises(ImageError, match="unpacks to diff id"):
        await store.pull(APP_REF)
    assert store.layers.diff_ids() == []


async def test_a_cancelled_pull_leaves_a_consistent_store(
    store: ImageStore, images: FakeRegistry
) -> None:
    images.latency_s = 0.02
    pull = asyncio.create_task(store.pull(APP_REF))
    await asyncio.sleep(0.05)  # mid-way: manifest and config done, layers in flight
    pull.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pull
    assert await store.get(APP_REF) is None
    image = await store.pull(APP_REF)
    await store.gc()
    assert await store.get(APP_REF) == image
    assert list(store.blobs.tmp.iterdir()) == list(store.layers.tmp.iterdir()) == []
