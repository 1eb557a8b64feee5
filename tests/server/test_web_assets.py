"""Every file the dashboard serves is shipped in the wheel (pyproject's package-data), and the
page references only assets that exist."""

import re
import tomllib
from pathlib import Path

import roost
from roost.server.web.pages import STATIC

ROOT = Path(__file__).resolve().parents[2]


def test_every_static_file_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["roost"]
    package = Path(roost.__file__).parent
    static = Path(str(STATIC))
    files = [p for p in static.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert len(files) > 8
    for path in files:
        relative = path.relative_to(package)
        shipped = any(_glob_match(str(relative), g) for g in globs)
        assert shipped, f"{relative} is not in package-data"


def _glob_match(path: str, glob: str) -> bool:
    pattern = re.escape(glob).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
    return re.fullmatch(pattern, path) is not None


def test_the_page_references_existing_assets() -> None:
    static = Path(str(STATIC))
    html = (static / "index.html").read_text()
    for ref in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert (static / ref).is_file(), ref
    for js in static.glob("*.js"):
        for module in re.findall(r'from "\./([^"]+)"', js.read_text()):
            assert (static / module).is_file(), f"{js.name} imports {module}"
