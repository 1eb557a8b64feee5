"""Docker Compose files, read the way ``docker compose config`` reads them.

A devcontainer.json with ``dockerComposeFile`` names one or more Compose files (relative to
the devcontainer.json); ``service`` is the one that becomes the environment and
``runServices`` (default: all) run beside it. This module turns those files into one model:

* several files are merged in order (the specification's merge rules: mappings merge key by
  key, ``command``/``entrypoint``/``healthcheck.test`` are replaced, ``ports``/``expose``/
  ``dns`` are unioned, ``volumes``/``devices`` merge by target, ``environment``/``labels``/
  ``build.args``/``depends_on`` merge as mappings whichever form they were written in, other
  lists are appended);
* ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``, ``${VAR:+alt}`` and
  ``$$`` are interpolated from the caller's environment, then the project's ``.env`` (the
  directory of the first file), as Compose does;
* ``extends`` (same file or another) and ``profiles`` (``COMPOSE_PROFILES``; a service named
  in ``runServices`` or ``service`` is enabled whatever its profiles, as ``docker compose up
  NAME`` does) are applied.

No maintained Python library reads Compose files (docker-compose v1, the Python one, is
end-of-life and pins old dependencies), so this is Roost's own, kept to what devcontainer
configurations use. A file that does not parse names the file, line and problem.
"""

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from roost.core.devcontainer.jsonc import ConfigError

REPLACED = ("command", "entrypoint")
UNIQUE = ("ports", "expose", "external_links", "dns", "dns_search", "tmpfs", "cap_add",
          "cap_drop", "profiles")  # fmt: skip
BY_TARGET = ("volumes", "devices")
AS_MAPPING = ("environment", "labels", "depends_on", "extra_hosts", "sysctls")
_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^}]*\})*))?\}"
                  r"|([A-Za-z_][A-Za-z0-9_]*))")  # fmt: skip
_MAX_EXTENDS = 16


@dataclass
class Project:
    """The merged, interpolated Compose model of a devcontainer configuration."""

    directory: Path
    services: dict[str, dict[str, Any]]
    volumes: dict[str, Any] = field(default_factory=dict)
    networks: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def started(self, service: str, run_services: list[str] | None) -> list[str]:
        """The services to run, in ``depends_on`` order (dependencies first), ``service``
        last among its peers: ``runServices`` (default: every enabled service) and what they
        depend on."""
        wanted = list(run_services) if run_services is not None else list(self.services)
        if service not in wanted:
            wanted.append(service)
        order: list[str] = []
        for name in wanted:
            self._visit(name, order, [])
        return order

    def _visit(self, name: str, order: list[str], path: list[str]) -> None:
        if name in order:
            return
        if name in path:
            raise ConfigError(self.files[0], 0, f"depends_on cycle: {' -> '.join([*path, name])}")
        if name not in self.services:
            raise ConfigError(self.files[0], 0, f"no service {name!r} in the Compose files")
        for dep in self.services[name].get("depends_on") or {}:
            self._visit(str(dep), order, [*path, name])
        order.append(name)


def files_of(config: Mapping[str, Any], devcontainer: Path) -> list[Path]:
    """The Compose files a devcontainer.json names, as paths (relative to its folder)."""
    named = config.get("dockerComposeFile")
    names = [named] if isinstance(named, str) else list(named or [])
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(devcontainer, 0, "dockerComposeFile must be a file name or a list")
    return [(devcontainer.parent / n).resolve() for n in names]


def load(
    files: list[Path],
    env: Mapping[str, str],
    *,
    enabled: Collection[str] = (),
) -> Project:
    """The project of ``files`` (the first file's directory is the project directory)."""
    directory = files[0].parent
    variables = {**dot_env(directory / ".env"), **env}
    docs = [_interpolate(_read(f), variables, f) for f in files]
    for path, doc in zip(files, docs, strict=True):
        _resolve_extends(doc, path, variables)
    merged: dict[str, Any] = {}
    for doc in docs:
        merged = _merge_top(merged, doc)
    profiles = [p for p in variables.get("COMPOSE_PROFILES", "").split(",") if p]
    services = {
        name: svc
        for name, svc in (merged.get("services") or {}).items()
        if name in enabled or not svc.get("profiles") or set(svc["profiles"]) & set(profiles)
    }
    return Project(directory, services, merged.get("volumes") or {},
                   merged.get("networks") or {}, list(files))  # fmt: skip


def dot_env(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a ``.env`` file (quotes removed, ``#`` comments skipped)."""
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, 0, f"cannot read the Compose file: {exc.strerror}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError(path, line, f"{exc.problem or exc.context}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict) or not isinstance(doc.get("services", {}), dict):
        raise ConfigError(path, 1, "a Compose file is a mapping with a `services` mapping")
    for name, svc in (doc.get("services") or {}).items():
        if not isinstance(svc, dict):
            raise ConfigError(path, _line_of(text, name), f"service {name!r} must be a mapping")
    return doc


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(f"{key}:"):
            return number
    return 0


def _interpolate(value: Any, variables: Mapping[str, str], path: Path) -> Any:
    if isinstance(value, str):
        return _VAR.sub(lambda m: _one(m, variables, path), value)
    if isinstance(value, list):
        return [_interpolate(v, variables, path) for v in value]
    if isinstance(value, dict):
        return {k: _interpolate(v, variables, path) for k, v in value.items()}
    return value


def _one(match: re.Match[str], variables: Mapping[str, str], path: Path) -> str:
    escaped, name, op, arg, bare = match.groups()
    if escaped:
        return "$"
    name = name or bare
    value = variables.get(name)
    empty = value is None or (value == "" and op is not None and op.startswith(":"))
    rest = _interpolate(arg or "", variables, path)
    kind = (op or "").lstrip(":")
    if kind == "-":
        return rest if empty else str(value)
    if kind == "?":
        if empty:
            raise ConfigError(path, 0, f"variable {name} is required: {rest or 'not set'}")
        return str(value)
    if kind == "+":
        return "" if empty else rest
    return value or ""


def _resolve_extends(doc: dict[str, Any], path: Path, variables: Mapping[str, str]) -> None:
    services = doc.get("services") or {}
    for name in list(services):
        services[name] = _extended(services, name, path, variables, 0)


def _extended(
    services: dict[str, Any], name: str, path: Path, variables: Mapping[str, str], depth: int
) -> dict[str, Any]:
    svc: dict[str, Any] = services[name]
    ext = svc.get("extends")
    if ext is None:
        return svc
    if depth > _MAX_EXTENDS:
        raise ConfigError(path, 0, f"service {name!r}: extends goes too deep (a cycle?)")
    spec = {"service": ext} if isinstance(ext, str) else dict(ext)
    base_name = str(spec.get("service", ""))
    if spec.get("file"):
        other = (path.parent / str(spec["file"])).resolve()
        base_doc = _interpolate(_read(other), variables, other)
        pool, where = base_doc.get("services") or {}, other
    else:
        pool, where = services, path
    if base_name not in pool:
        raise ConfigError(path, 0, f"service {name!r} extends {base_name!r}, which {where} lacks")
    base = _extended(pool, base_name, where, variables, depth + 1)
    own = {k: v for k, v in svc.items() if k != "extends"}
    return _merge_service({k: v for k, v in base.items() if k != "extends"}, own)


def _merge_top(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if key == "services":
            merged = dict(out.get("services") or {})
            for name, svc in (value or {}).items():
                merged[name] = _merge_service(merged.get(name, {}), svc)
            out["services"] = merged
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _merge_service(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        old = out.get(key)
        if key in AS_MAPPING:
            bare: Any = {} if key == "depends_on" else None
            out[key] = {**as_mapping(old, bare), **as_mapping(value, bare)}
        elif key == "build":
            out[key] = _merge_build(old, value)
        elif key == "healthcheck" and isinstance(old, dict) and isinstance(value, dict):
            out[key] = {**old, **value}
        elif key in REPLACED or old is None:
            out[key] = value
        elif key in UNIQUE and isinstance(old, list) and isinstance(value, list):
            out[key] = old + [v for v in value if v not in old]
        elif key in BY_TARGET and isinstance(old, list) and isinstance(value, list):
            out[key] = _by_target(old + value)
        elif isinstance(old, list) and isinstance(value, list):
            out[key] = old + value
        elif isinstance(old, dict) and isinstance(value, dict):
            out[key] = {**old, **value}
        else:
            out[key] = value
    return out


def _merge_build(old: Any, new: Any) -> Any:
    a = {"context": old} if isinstance(old, str) else dict(old or {})
    b = {"context": new} if isinstance(new, str) else dict(new or {})
    args = {**as_mapping(a.get("args")), **as_mapping(b.get("args"))}
    out = {**a, **b}
    if args:
        out["args"] = args
    return out


def as_mapping(value: Any, bare: Any = None) -> dict[str, Any]:
    """``environment``/``labels``/``depends_on`` written as a list or a mapping, as a mapping;
    a list item without ``=`` maps to ``bare`` (``["A=1", "B"]`` → ``{"A": "1", "B": None}``;
    ``depends_on: [db]`` with ``bare={}`` → ``{"db": {}}``)."""
    if isinstance(value, dict):
        return dict(value)
    out: dict[str, Any] = {}
    for item in value or []:
        text = str(item)
        if "=" in text:
            key, _, val = text.partition("=")
            out[key] = val
        else:
            out[text] = bare
    return out


def _by_target(mounts: list[Any]) -> list[Any]:
    by: dict[str, Any] = {}
    for mount in mounts:
        by[_target(mount)] = mount
    return list(by.values())


def _target(mount: Any) -> str:
    if isinstance(mount, dict):
        return str(mount.get("target", ""))
    parts = str(mount).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def project_of(config: Mapping[str, Any], devcontainer: Path, env: Mapping[str, str]) -> Project:
    """The Compose project of a (substituted) devcontainer configuration, checked: its
    ``service`` and every one of its ``runServices`` exist."""
    service = str(config.get("service") or "")
    run = config.get("runServices")
    enabled = [service, *(run or [])]
    project = load(files_of(config, devcontainer), env, enabled=enabled)
    project.started(service, run)  # names a missing service or a depends_on cycle
    return project
