"""The registry client against a fake registry: auth flows, platform selection, and errors."""

import json
from pathlib import Path

import httpx
import pytest

from roost.runner.images import ImageError, ImageStore, ImageUnavailable
from roost.runner.images.oci import Index, Platform, host_platform, select_platform
from roost.runner.images.registry import RegistryClient
from tests.runner.images.fakes import (
    OCI_INDEX,
    REGISTRY,
    FakeRegistry,
    TarBuilder,
    digest_of,
    gzip_layer,
)

REF = f"{REGISTRY}/team/app:1.0"


def one_layer(fake: FakeRegistry, repo: str = "team/app", tag: str = "1.0") -> str:
    layer = gzip_layer(TarBuilder().file("hello.txt", b"hi\n").bytes())
    return fake.add_image(repo, tag, [layer], Cmd=["/bin/sh"])


def store_for(tmp_path: Path, fake: FakeRegistry, **kwargs: object) -> ImageStore:
    return ImageStore(tmp_path / "store", transport=fake.transport(), **kwargs)  # type: ignore[arg-type]


async def test_anonymous_pull_over_https(tmp_path: Path, fake: FakeRegistry) -> None:
    digest = one_layer(fake)
    image = await store_for(tmp_path, fake).pull(REF)
    assert image.digest == digest
    assert image.ref == REF
    assert image.config.cmd == ("/bin/sh",)
    assert (image.layers[0] / "hello.txt").read_text() == "hi\n"
    assert {r.url.scheme for r in fake.requests} == {"https"}
    assert fake.manifest_gets()[0] == "/v2/team/app/manifests/1.0"
    assert fake.requests[0].headers["accept"].startswith("application/vnd.oci.image.index.v1+json")


async def test_bearer_challenge_fetches_one_token_and_reuses_it(tmp_path: Path) -> None:
    fake = FakeRegistry(auth="bearer")
    one_layer(fake)
    await store_for(tmp_path, fake).pull(REF)
    tokens = fake.token_requests()
    assert len(tokens) == 1
    assert tokens[0].url.params["service"] == REGISTRY
    assert tokens[0].url.params["scope"] == "repository:team/app:pull"
    assert "authorization" not in tokens[0].headers  # anonymous token
    # manifest 401 + retry, then config and layer blobs straight with the token
    assert [r.headers.get("authorization") for r in fake.requests if "/v2/" in r.url.path] == [
        None,
        *["Bearer token-for-team/app"] * 3,
    ]


async def test_bearer_token_service_gets_configured_credentials(tmp_path: Path) -> None:
    fake = FakeRegistry(auth="bearer", users={"alice": "pw"})
    one_layer(fake)
    store = store_for(tmp_path, fake, credentials={REGISTRY: ("alice", "pw")})
    await store.pull(REF)
    assert fake.token_requests()[0].headers["authorization"].startswith("Basic ")


async def test_token_service_refusing_credentials_is_image_error(tmp_path: Path) -> None:
    fake = FakeRegistry(auth="bearer", users={"alice": "pw"})
    one_layer(fake)
    store = store_for(tmp_path, fake, credentials={REGISTRY: ("alice", "wrong")})
    with pytest.raises(
        ImageError, match=r"refused the credentials .* configured for registry.test"
    ):
        await store.pull(REF)


async def test_basic_auth_with_credentials(tmp_path: Path) -> None:
    fake = FakeRegistry(auth="basic", users={"bob": "secret"})
    one_layer(fake)
    store = store_for(tmp_path, fake, credentials={REGISTRY: ("bob", "secret")})
    assert (await store.pull(REF)).layers


async def test_basic_auth_without_credentials_says_so(tmp_path: Path) -> None:
    fake = FakeRegistry(auth="basic", users={"bob": "secret"})
    one_layer(fake)
    with pytest.raises(ImageError, match="requires a user name and password"):
        await store_for(tmp_path, fake).pull(REF)


async def test_wrong_basic_credentials_are_access_denied(tmp_path: Path) -> None:
    fake = FakeRegistry(auth="basic", users={"bob": "secret"})
    one_layer(fake)
    store = store_for(tmp_path, fake, credentials={REGISTRY: ("bob", "nope")})
    with pytest.raises(ImageError, match=r"denied access to 'team/app' \(HTTP 401"):
        await store.pull(REF)


async def test_missing_tag_is_image_error(tmp_path: Path, fake: FakeRegistry) -> None:
    one_layer(fake)
    with pytest.raises(ImageError) as caught:
        await store_for(tmp_path, fake).pull(f"{REGISTRY}/team/app:nope")
    assert caught.value.message.startswith(
        "image 'team/app' not found in registry registry.test (HTTP 404 for manifest nope"
    )
    assert caught.value.message.endswith("check the name and tag")


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_server_errors_are_temporary(tmp_path: Path, fake: FakeRegistry, status: int) -> None:
    one_layer(fake)
    fake.hook = lambda request: httpx.Response(status, headers={"Retry-After": "7"})
    with pytest.raises(ImageUnavailable, match=f"answered HTTP {status}") as caught:
        await store_for(tmp_path, fake).pull(REF)
    assert caught.value.delay == 7


async def test_connection_refused_is_temporary_and_names_the_registry(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    store = ImageStore(tmp_path / "s", transport=httpx.MockTransport(refuse))
    with pytest.raises(ImageUnavailable) as caught:
        await store.pull("localhost:5000/busybox")
    assert caught.value.message == (
        "registry localhost:5000 is unreachable: [Errno 111] Connection refused; "
        "retry when it is up"
    )


async def test_timeout_is_temporary(tmp_path: Path) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    store = ImageStore(tmp_path / "s", transport=httpx.MockTransport(slow))
    with pytest.raises(ImageUnavailable, match="registry localhost:5000 did not answer in time"):
        await store.pull("localhost:5000/busybox")


async def test_garbage_manifest_is_image_error(tmp_path: Path, fake: FakeRegistry) -> None:
    fake.add_manifest("team/app", "1.0", "application/vnd.oci.image.manifest.v1+json", b"{nope")
    with pytest.raises(
        ImageError, match=r"manifest of registry\.test/team/app:1\.0 is not a valid"
    ):
        await store_for(tmp_path, fake).pull(REF)


async def test_unknown_layer_media_type_is_image_error(tmp_path: Path, fake: FakeRegistry) -> None:
    layer = gzip_layer(TarBuilder().file("x").bytes())
    fake.add_image("team/app", "1.0", [layer.__class__(layer.tar, layer.blob, "text/plain")])
    with pytest.raises(ImageError, match="unsupported media type 'text/plain'"):
        await store_for(tmp_path, fake).pull(REF)


async def test_announced_manifest_digest_must_match(tmp_path: Path, fake: FakeRegistry) -> None:
    one_layer(fake)
    fake.hook = lambda r: (
        httpx.Response(
            200,
            content=fake.manifests[("team/app", "1.0")][1],
            headers={"Docker-Content-Digest": "sha256:" + "0" * 64},
        )
        if "/manifests/" in r.url.path
        else None
    )
    with pytest.raises(ImageError, match="whose digest is sha256:"):
        await store_for(tmp_path, fake).pull(REF)


async def test_blob_with_wrong_content_is_rejected_and_not_stored(
    tmp_path: Path, fake: FakeRegistry
) -> None:
    one_layer(fake)
    layer_digest = json.loads(fake.manifests[("team/app", "1.0")][1])["layers"][0]["digest"]
    fake.blobs[layer_digest] = b"\x1f\x8b tampered"
    store = store_for(tmp_path, fake)
    with pytest.raises(ImageError, match="the data is corrupt"):
        await store.pull(REF)
    assert not store.blobs.has(layer_digest)
    assert list(store.blobs.tmp.iterdir()) == []
    assert await store.get(REF) is None


async def test_pull_by_digest_checks_the_digest(tmp_path: Path, fake: FakeRegistry) -> None:
    digest = one_layer(fake)
    image = await store_for(tmp_path, fake).pull(f"{REGISTRY}/team/app@{digest}")
    assert image.digest == digest
    fake.manifests[("team/app", digest)] = ("application/vnd.oci.image.manifest.v1+json", b"{}")
    with pytest.raises(ImageError, match="not " + digest):
        await store_for(tmp_path / "other", fake).pull(f"{REGISTRY}/team/app@{digest}")


def index_of(entries: dict[str, str]) -> bytes:
    manifests = []
    for platform, digest in entries.items():
        os_, arch, *variant = platform.split("/")
        p = {"os": os_, "architecture": arch} | ({"variant": variant[0]} if variant else {})
        manifests.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": 1,
                "platform": p,
            }
        )
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).encode()


async def test_multi_arch_index_picks_the_host_platform(tmp_path: Path, fake: FakeRegistry) -> None:
    mine = host_platform()
    ours = fake.add_image("team/app", "host", [gzip_layer(TarBuilder().file("ours").bytes())])
    other = fake.add_image("team/app", "other", [gzip_layer(TarBuilder().file("other").bytes())])
    foreign = "linux/s390x" if mine.architecture != "s390x" else "linux/ppc64le"
    body = index_of({foreign: other, f"linux/{mine.architecture}": ours, "unknown/unknown": other})
    fake.add_manifest("team/app", "1.0", OCI_INDEX, body)
    image = await store_for(tmp_path, fake).pull(REF)
    assert image.digest == ours
    assert (image.layers[0] / "ours").exists()


def test_select_platform_prefers_exact_variant_then_none() -> None:
    d = {f"v{i}": "sha256:" + str(i) * 64 for i in range(1, 4)}
    index = Index.model_validate_json(
        index_of({"linux/arm/v6": d["v1"], "linux/arm": d["v2"], "linux/arm/v7": d["v3"]})
    )
    assert (
        select_platform(index, Platform(os="linux", architecture="arm", variant="v7"), "x").digest
        == d["v3"]
    )
    arm64 = Platform(os="linux", architecture="arm", variant="v8")
    assert select_platform(index, arm64, "x").digest == d["v2"]
    with pytest.raises(ImageError, match=r"no image for linux/riscv64 \(it offers: linux/arm"):
        select_platform(index, Platform(os="linux", architecture="riscv64"), "index x")


async def test_blob_redirects_are_followed_without_the_token() -> None:
    seen: list[httpx.Request] = []
    content = b"layer bytes"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "storage.test":
            return httpx.Response(200, content=content)
        return httpx.Response(307, headers={"Location": "https://storage.test/blob?sig=1"})

    client = RegistryClient(transport=httpx.MockTransport(handler))
    async with client, client.blob(REGISTRY, "team/app", digest_of(content)) as chunks:
        data = b"".join([c async for c in chunks])
    assert data == content
    assert seen[-1].url.host == "storage.test"
    assert "authorization" not in seen[-1].headers


async def test_insecure_registries_use_plain_http(tmp_path: Path, fake: FakeRegistry) -> None:
    one_layer(fake)
    await store_for(tmp_path, fake, insecure_registries=[REGISTRY]).pull(REF)
    assert {r.url.scheme for r in fake.requests} == {"http"}


async def test_blob_longer_than_its_descriptor_is_cut_off(
    tmp_path: Path, fake: FakeRegistry
) -> None:
    one_layer(fake)
    layer_digest = json.loads(fake.manifests[("team/app", "1.0")][1])["layers"][0]["digest"]
    fake.blobs[layer_digest] += b"\0" * 4096
    with pytest.raises(ImageError, match=r"larger than the \d+ bytes its manifest says"):
        await store_for(tmp_path, fake).pull(REF)
