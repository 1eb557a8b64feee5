"""The messages for failed builds, from buildah's own output."""

from pathlib import Path

from roost.runner.devcontainer.build_errors import dockerfile_failure, feature_failure

TAIL = [
    "STEP 2/3: RUN apt-get install -y nope",
    "Reading package lists...",
    "E: Unable to locate package nope",
    'Error: building at STEP "RUN apt-get install -y nope": while running runtime: exit status 100',
]


def test_a_failing_instruction(tmp_path: Path) -> None:
    file = tmp_path / "Dockerfile"
    file.write_text("FROM debian\n\nRUN apt-get install -y nope\n")
    error = dockerfile_failure(TAIL, file, ".devcontainer/Dockerfile", "e1")
    assert error.message == (
        "the image build failed at `RUN apt-get install -y nope` (.devcontainer/Dockerfile:3) "
        "with exit status 100; last output:\n  Reading package lists...\n"
        "  E: Unable to locate package nope\nfull log: `roost env logs e1 --step build`"
    )
    assert error.code == "build_failed"


def test_another_failure_keeps_buildahs_words(tmp_path: Path) -> None:
    tail = ["Error: building: no FROM statement found"]
    error = dockerfile_failure(tail, tmp_path / "Dockerfile", "Dockerfile", "e1")
    assert error.message == (
        "building Dockerfile failed: building: no FROM statement found; "
        "full log: `roost env logs e1 --step build`"
    )


def test_a_failing_feature_is_named_by_its_id() -> None:
    run = "RUN cd /tmp/dev-container-features/0-x && /bin/sh ./devcontainer-features-install.sh"
    tail = ["==> installing feature x", "boom", f'Error: building at STEP "{run}": while '
            "running runtime: exit status 2"]  # fmt: skip
    error = feature_failure(tail, {run: "ghcr.io/acme/x:1"}, "e1")
    assert error.message.startswith(
        "feature 'ghcr.io/acme/x:1' failed to install (install.sh exit status 2); last output:\n"
        "  ==> installing feature x\n  boom\n"
    )
