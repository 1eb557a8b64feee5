"""Just enough Dockerfile reading to build it: the images it starts from, and where it failed.

The builder provides every image a Dockerfile names (``FROM``, ``COPY --from``,
``RUN --mount=from=``) from Roost's own store, so buildah never talks to a registry. Names may
use build arguments: ``ARG`` lines before the first ``FROM`` give defaults, ``build.args``
override them, and ``$NAME`` / ``${NAME}`` / ``${NAME:-default}`` are replaced as Docker does.
Stage names and ``scratch`` are not images.
"""

import re
from dataclasses import dataclass
from pathlib import Path

_ESCAPE = re.compile(r"^#\s*escape\s*=\s*(\S)", re.IGNORECASE)
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_FROM_FLAG = re.compile(r"--(?:mount=\S*from=|from=)([^,\s]+)")


@dataclass(frozen=True)
class Instruction:
    line: int
    """1-based line of the instruction's first line."""
    keyword: str
    """Upper case: ``FROM``, ``RUN``..."""
    text: str
    """The arguments, continuation lines joined."""


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, comments and continuations handled."""
    lines = text.splitlines()
    escape = "\\"
    if lines and (m := _ESCAPE.match(lines[0])):
        escape = m.group(1)
    out: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (parts and not stripped):
            continue  # comments, and blank lines inside a continued instruction
        if not parts:
            start = number
        if stripped.endswith(escape):
            parts.append(stripped[:-1])
            continue
        parts.append(stripped)
        joined = " ".join(p for p in parts if p).strip()
        parts = []
        if joined:
            keyword, _, rest = joined.partition(" ")
            out.append(Instruction(start, keyword.upper(), rest.strip()))
    return out


def substitute(value: str, args: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        current = args.get(name, "")
        if m.group(2) == "-":
            return current or m.group(3)
        if m.group(2) == "+":
            return m.group(3) if current else ""
        return current

    return _VAR.sub(one, value)


def base_images(text: str, build_args: dict[str, str]) -> list[str]:
    """The images a Dockerfile needs (in order, without duplicates)."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    found: list[str] = []
    seen_from = False
    for ins in instructions(text):
        if ins.keyword == "ARG" and not seen_from:
            name, _, default = ins.text.partition("=")
            args[name.strip()] = build_args.get(name.strip(), default.strip().strip("\"'"))
        elif ins.keyword == "FROM":
            seen_from = True
            words = [w for w in ins.text.split() if not w.startswith("--")]
            image = substitute(words[0], args) if words else ""
            if len(words) >= 3 and words[1].upper() == "AS":
                stages.add(words[2].lower())
            found.append(image)
        elif ins.keyword in ("COPY", "RUN"):
            found += [substitute(m, args) for m in _FROM_FLAG.findall(ins.text)]
    images = [i for i in found if i and i.lower() != "scratch" and i.lower() not in stages]
    return [i for n, i in enumerate(images) if i not in images[:n] and not i.isdigit()]


def locate(path: Path, step: str) -> Instruction | None:
    """The instruction buildah reported as ``step`` (e.g. ``RUN make``), if it can be found."""
    try:
        found = instructions(path.read_text(errors="replace"))
    except OSError:
        return None
    wanted = " ".join(step.split())
    for ins in found:
        if " ".join(f"{ins.keyword} {ins.text}".split()) == wanted:
            return ins
    return None
