"""Legacy top-level properties, moved where the reference CLI moves them.

Before ``customizations`` existed, VS Code's settings and extensions sat at the top level of
devcontainer.json (``settings``, ``extensions``, ``devPort``); a dozen of fifty well-known
repositories still write them so. The reference CLI moves them into ``customizations.vscode``
as soon as it has parsed the file, before variables are substituted: extensions are appended
to those already there, and on a settings clash the value already in
``customizations.vscode.settings`` wins. Truthiness follows JavaScript's (an empty list or
object still counts), so the output matches the reference's byte for byte.
"""

from typing import Any

LEGACY = ("settings", "extensions", "devPort")


def migrate(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its legacy properties moved into ``customizations.vscode``."""
    if not (_truthy(doc.get("extensions")) or _truthy(doc.get("settings")) or "devPort" in doc):
        return doc
    out = dict(doc)
    customizations = dict(out.get("customizations") or {})
    vscode = dict(customizations.get("vscode") or {})
    if _truthy(out.get("extensions")):
        extra = out.pop("extensions")
        vscode["extensions"] = [*(vscode.get("extensions") or []), *_as_list(extra)]
    if _truthy(out.get("settings")):
        settings = out.pop("settings")
        vscode["settings"] = {**_as_dict(settings), **(vscode.get("settings") or {})}
    if "devPort" in out and "devPort" not in vscode:
        vscode["devPort"] = out.pop("devPort")
    customizations["vscode"] = vscode
    out["customizations"] = customizations
    return out


def _truthy(value: Any) -> bool:
    """JavaScript's truthiness: ``[]`` and ``{}`` are true, ``""``, ``0`` and ``null`` false."""
    if isinstance(value, list | dict):
        return True
    return bool(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]  # Array.prototype.concat's rule


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
