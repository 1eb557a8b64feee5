"""Reading Dockerfiles: the images a build needs, build arguments, where an instruction is."""

from pathlib import Path

from roost.runner.devcontainer.dockerfile import base_images, instructions, locate, substitute


def test_images_with_arguments_stages_and_copy_from() -> None:
    text = """\
# syntax=docker/dockerfile:1
ARG BASE=debian:12
ARG TAG
FROM --platform=$BUILDPLATFORM ${BASE} AS build
RUN --mount=type=cache,target=/root/.cache --mount=from=tools:1,source=/x,target=/y make
COPY --from=registry.lan:5000/assets:${TAG:-latest} /a /a
FROM scratch AS empty
FROM build
COPY --from=build /out /out
COPY --from=0 /a /b
"""
    assert base_images(text, {}) == ["debian:12", "tools:1", "registry.lan:5000/assets:latest"]
    assert base_images(text, {"BASE": "ubuntu:24.04", "TAG": "v2"}) == [
        "ubuntu:24.04", "tools:1", "registry.lan:5000/assets:v2",
    ]  # fmt: skip


def test_continuations_comments_and_the_escape_directive() -> None:
    text = "# escape=`\nFROM alpine\nRUN echo a `\n  # a comment inside\n  && echo b\n"
    found = instructions(text)
    assert [(i.line, i.keyword, " ".join(i.text.split())) for i in found] == [
        (2, "FROM", "alpine"), (3, "RUN", "echo a && echo b"),
    ]  # fmt: skip


def test_variable_forms() -> None:
    args = {"A": "1", "EMPTY": ""}
    assert substitute("$A-${A}-${B:-dflt}-${A:+set}-${EMPTY:+set}-$B", args) == "1-1-dflt-set--"


def test_locate_finds_a_multiline_instruction(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM x\n\nRUN make \\\n    all\n")
    found = locate(path, "RUN make     all")
    assert found is not None and found.line == 3
    assert locate(path, "RUN other") is None
