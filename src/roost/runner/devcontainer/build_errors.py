"""What a user is told when an image build fails.

buildah ends a failed build with ``Error: building at STEP "RUN make": while running runtime:
exit status 2``. The message names the instruction, where it is (file and line), its exit
status and the last lines of its output, and points at the full log (``roost env logs ID
--step build``). A failing feature is named by its id instead of the generated instruction.
"""

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from roost.core.errors import PermanentError
from roost.runner.devcontainer import dockerfile

_STEP = re.compile(r'building at STEP "(?P<step>.*)": (?P<why>.*?)(?:exit status (?P<code>\d+))?$')
_NOISE = re.compile(r"^(\[\d+/\d+\] )?STEP \d+/\d+: |^--> |^COMMIT ")
SHOWN = 8


class BuildFailed(PermanentError):
    code = "build_failed"


def _split(tail: Sequence[str]) -> tuple[re.Match[str] | None, list[str], str]:
    """(the STEP match, the output before the error, the error line)."""
    lines = [x for x in tail if x.strip()]
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("Error:"):
            return _STEP.search(lines[index]), lines[:index], lines[index]
    return None, lines, lines[-1] if lines else ""


def dockerfile_failure(tail: Sequence[str], file: Path, shown_as: str, env_id: str) -> BuildFailed:
    match, output, error = _split(tail)
    see = f"full log: `roost env logs {env_id} --step build`"
    if match is None:
        return BuildFailed(f"building {shown_as} failed: {error.removeprefix('Error: ')}; {see}")
    step = match.group("step")
    found = dockerfile.locate(file, step)
    where = f"{shown_as}:{found.line}" if found else shown_as
    status = f"exit status {match.group('code')}" if match.group("code") else match.group("why")
    return BuildFailed(
        f"the image build failed at `{_short(step)}` ({where}) with {status}; last output:\n"
        f"{_last(output)}\n{see}"
    )


def feature_failure(tail: Sequence[str], steps: Mapping[str, str], env_id: str) -> BuildFailed:
    match, output, error = _split(tail)
    see = f"full log: `roost env logs {env_id} --step build`"
    feature = steps.get(match.group("step")) if match else None
    if match is None or feature is None:
        return BuildFailed(f"installing features failed: {error.removeprefix('Error: ')}; {see}")
    code = match.group("code") or "?"
    return BuildFailed(
        f"feature '{feature}' failed to install (install.sh exit status {code}); last output:\n"
        f"{_last(output)}\n{see}"
    )


def _last(output: Sequence[str]) -> str:
    kept = [x.rstrip() for x in output if not _NOISE.match(x)]
    return "\n".join(f"  {x}" for x in kept[-SHOWN:]) or "  (no output)"


def _short(step: str) -> str:
    step = " ".join(step.split())
    return step if len(step) <= 120 else step[:117] + "..."
