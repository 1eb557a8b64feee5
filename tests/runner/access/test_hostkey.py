"""The gateway's host key: made once, private, stable across restarts, published."""

from pathlib import Path

from roost.runner.access import hostkey


def test_made_once_and_kept(tmp_path: Path) -> None:
    assert hostkey.public_line(tmp_path) is None
    first = hostkey.load_or_create(tmp_path)
    path = tmp_path / hostkey.KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    again = hostkey.load_or_create(tmp_path)
    assert again.export_public_key() == first.export_public_key()
    line = hostkey.public_line(tmp_path)
    assert line is not None and line.startswith("ssh-ed25519 ") and len(line.split()) == 2
    assert first.export_public_key().decode().startswith(line)
