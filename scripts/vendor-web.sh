#!/usr/bin/env bash
# Refresh the dashboard's third-party assets (xterm.js and its fit addon) from npm, at the pinned
# versions below, into src/roost/server/web/static/vendor/xterm/. The result is committed, so
# users and the wheel need no npm and no build step; run this only to change the versions.
set -euo pipefail
cd "$(dirname "$0")/.."
XTERM=@xterm/xterm@6.0.0
FIT=@xterm/addon-fit@0.11.0
DEST=src/roost/server/web/static/vendor/xterm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$XTERM" "$FIT" >/dev/null)
mkdir -p "$work/xterm" "$work/fit" "$DEST"
tar xzf "$work"/xterm-xterm-*.tgz -C "$work/xterm"
tar xzf "$work"/xterm-addon-fit-*.tgz -C "$work/fit"
cp "$work/xterm/package/lib/xterm.js" "$work/xterm/package/css/xterm.css" "$DEST/"
cp "$work/xterm/package/LICENSE" "$DEST/LICENSE"
cp "$work/fit/package/lib/addon-fit.js" "$DEST/"
echo "vendored $XTERM and $FIT into $DEST"
