#!/usr/bin/env bash
# The main job, after ./dev has installed what is needed: start `roost up` in the background
# (unless one already answers), wait for it, and say how to use it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOST=$PWD/.venv/bin/roost
DATA_DIR=${ROOST_DATA_DIR:-$([ "$(id -u)" -eq 0 ] && echo /var/lib/roost || echo "$HOME/.local/share/roost")}
LISTEN=${ROOST_LISTEN:-127.0.0.1:8080}
URL=http://$LISTEN

mkdir -p "$DATA_DIR"
if ! curl -fsS "$URL/healthz" >/dev/null 2>&1; then
  echo "starting roost up (data: $DATA_DIR, log: $DATA_DIR/roost.log)" >&2
  setsid "$ROOST" up --data-dir "$DATA_DIR" --listen "$LISTEN" >>"$DATA_DIR/roost.log" 2>&1 </dev/null &
  echo $! >"$DATA_DIR/roost.pid"
  for _ in $(seq 1 300); do
    curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
    kill -0 "$(cat "$DATA_DIR/roost.pid")" 2>/dev/null || { tail -n 30 "$DATA_DIR/roost.log" >&2; exit 1; }
    sleep 0.2
  done
fi
export ROOST_URL=$URL ROOST_TOKEN
ROOST_TOKEN=$(cat "$DATA_DIR/admin-token")
"$ROOST" env list
cat >&2 <<MSG

Roost is running at $URL (pid $(cat "$DATA_DIR/roost.pid" 2>/dev/null || echo '?'), log $DATA_DIR/roost.log).
The CLI is at $ROOST; it is logged in as admin (token in $DATA_DIR/admin-token).
  $ROOST env create --wait        # a new environment
  $ROOST env list
Stop Roost with: kill \$(cat $DATA_DIR/roost.pid)
MSG
