"""The devcontainer security policy: what asks for nested containers, and what it gets."""

from typing import Any

import pytest

from roost.core.devcontainer.model import DevcontainerConfig
from roost.runner.devcontainer import policy


def config(**doc: Any) -> DevcontainerConfig:
    return DevcontainerConfig.model_validate({"image": "x", **doc})


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"privileged": True}, "privileged: true"),
        ({"runArgs": ["--init", "--privileged"]}, 'runArgs ["--privileged"]'),
        ({"features": {"ghcr.io/devcontainers/features/docker-in-docker:2": {}}}, "feature"),
        ({"features": {"./docker-outside-of-docker": {}}}, "feature ./docker-outside-of-docker"),
        ({"capAdd": ["CAP_SYS_ADMIN"]}, "capAdd SYS_ADMIN"),
    ],
)
def test_each_way_of_asking_is_refused_by_name_without_the_class_policy(
    doc: dict[str, Any], reason: str
) -> None:
    with pytest.raises(policy.PolicyRefusal) as refused:
        policy.check(config(**doc), ".devcontainer/devcontainer.json", class_name="default")
    message = str(refused.value)
    assert reason in message
    assert "class 'default' does not allow" in message
    assert "nested_containers is off" in message


def test_the_class_policy_turns_the_request_into_the_nested_mode() -> None:
    doc = {
        "privileged": True,
        "capAdd": ["SYS_ADMIN", "SYS_PTRACE"],
        "features": {"./docker-in-docker": {}},
        "mounts": [
            "source=dind-var-lib-docker,target=/var/lib/docker,type=volume",
            "type=tmpfs,target=/scratch",
        ],
    }
    grants = policy.check(config(**doc), "d.json", nested_allowed=True)
    assert grants.nested_containers
    assert grants.cap_add == ["SYS_PTRACE"]  # SYS_ADMIN comes with the mode, in the userns
    assert grants.tmpfs == ["/scratch"]  # the engine's volume is the runner's engine storage


def test_a_plain_config_does_not_get_the_mode_even_when_allowed() -> None:
    grants = policy.check(config(capAdd=["SYS_PTRACE"]), "d.json", nested_allowed=True)
    assert not grants.nested_containers


def test_other_named_volumes_are_still_refused_in_nested_mode() -> None:
    doc = {"privileged": True, "mounts": ["source=v,target=/data,type=volume"]}
    with pytest.raises(policy.PolicyRefusal, match="named volume"):
        policy.check(config(**doc), "d.json", nested_allowed=True)
