"""A stand-in for ``docker`` so that the reference devcontainers CLI's ``read-configuration``
runs without a Docker engine: no containers exist, and ``inspect --type image`` answers with
the ``devcontainer.metadata`` label found in the file named by ``FAKE_DOCKER_LABEL``."""

import json
import os
import sys


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["ps"]:
        return 0
    if args[:1] == ["inspect"]:
        path = os.environ.get("FAKE_DOCKER_LABEL", "")
        label = open(path).read() if path and os.path.exists(path) else "[]"  # noqa: SIM115
        doc = {"Id": "sha256:" + "0" * 64, "Os": "linux", "Architecture": "amd64",
               "Config": {"User": "root", "Env": ["PATH=/usr/bin:/bin"],
                          "Labels": {"devcontainer.metadata": label}}}  # fmt: skip
        print(json.dumps([doc]))
        return 0
    print(f"fake docker cannot {' '.join(args)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
