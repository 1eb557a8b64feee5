"""``ROOST_LOG_FORMAT=json``: one JSON object per log line from ``roost server``."""

import json
from pathlib import Path

from tests.support.live import live_server


def test_the_plane_logs_json_lines(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ROOST_LOG_FORMAT", "json")
    with live_server(tmp_path) as server:
        pass
    lines = [ln for ln in (server.data_dir / "server.log").read_text().splitlines() if ln.strip()]
    docs = [json.loads(ln) for ln in lines if ln.startswith("{")]
    assert docs, lines
    assert all({"time", "level", "logger", "message"} <= d.keys() for d in docs)
    assert all(d["time"].endswith("+00:00") for d in docs)
