#!/usr/bin/env bash
# The main job, after ./dev has installed what is needed: build the default image if this host
# has none, start `roost up` in the background (unless one already answers), make sure there is
# a running development environment, and say how to get into it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOST=$PWD/.venv/bin/roost
DATA_DIR=${ROOST_DATA_DIR:-/var/lib/roost}
LISTEN=${ROOST_LISTEN:-127.0.0.1:8080}
URL=http://$LISTEN
export ROOST_CONFIG=${ROOST_CONFIG:-$HOME/.config/roost/config.json}

if [ "$(id -u)" -ne 0 ]; then
  echo "the runner needs root (namespaces, mounts, cgroups): run ./dev up as root" >&2
  exit 1
fi
mkdir -p "$DATA_DIR"

if ! "$ROOST" image list --data-dir "$DATA_DIR/runner" -o json | grep -q '"roost.local/base:bookworm"'; then
  "$ROOST" image build-base --data-dir "$DATA_DIR/runner" >/dev/null
fi

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
"$ROOST" login "$URL" --token "$(cat "$DATA_DIR/admin-token")" >/dev/null  # as admin, for later commands

# A running environment: the first one named "dev", created if missing, started if stopped.
ENV_ID=$("$ROOST" env list -o json | "$PWD/.venv/bin/python" -c '
import json, sys
envs = [e for e in json.load(sys.stdin) if e["metadata"]["name"] == "dev"]
print(envs[0]["metadata"]["id"] if envs else "")')
if [ -z "$ENV_ID" ]; then
  ENV_ID=$("$ROOST" env create --name dev --wait -o json | "$PWD/.venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["id"])')
else
  "$ROOST" env start "$ENV_ID" --wait >/dev/null
fi
"$ROOST" env exec "$ENV_ID" -- sh -c 'echo "inside: $(id)"; echo "host:   root here is uid $(awk "{print \$2}" /proc/self/uid_map) on the host"'
SIGN_IN=$("$ROOST" login --web 2>/dev/null || echo "(roost login --web failed; see the log)")
cat <<MSG

Roost is running at $URL (pid $(cat "$DATA_DIR/roost.pid" 2>/dev/null || echo '?'), log $DATA_DIR/roost.log),
with a development environment "dev" ($ENV_ID). Enter it with:

  $ROOST env exec $ENV_ID -- bash

Dashboard: $URL/  -- sign in within a minute with this one-use link
(print another with: $ROOST login --web):

  $SIGN_IN

More: $ROOST env list | env create --wait | env stop ID | env delete ID
The CLI is logged in as admin (token in $DATA_DIR/admin-token). Stop Roost with:
  kill \$(cat $DATA_DIR/roost.pid)      # environments keep running and are re-adopted next time
MSG
