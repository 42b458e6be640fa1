#!/usr/bin/env bash
# The smart-turn v3.2 end-of-turn model (BSD-2-Clause, 8.7 MB ONNX) ships inside the pipecat-ai
# wheel. pipecat-ai itself is never installed (34 dependencies, an older soxr pin): this downloads
# that one wheel without dependencies, extracts the model into the virtualenv's share/ folder
# (where voiceflow.services.turn.smart_turn looks for it) and checks its sha256.
#   bash scripts/fetch_smart_turn.sh [VENV]
set -euo pipefail
VENV=${1:-.venv}
PIPECAT_VERSION=1.14.0
MEMBER=pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx
SHA256=2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f
DEST="$VENV/share/voiceflow/smart-turn-v3.2-cpu.onnx"

if [ -f "$DEST" ] && echo "$SHA256  $DEST" | sha256sum -c --status; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$VENV/bin/python" -m pip download -q --no-deps "pipecat-ai==$PIPECAT_VERSION" -d "$tmp"
"$VENV/bin/python" - "$tmp"/pipecat_ai-*.whl "$MEMBER" "$tmp/model.onnx" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
echo "$SHA256  $tmp/model.onnx" | sha256sum -c --status || {
  echo "smart-turn model from pipecat-ai==$PIPECAT_VERSION has an unexpected sha256" >&2
  exit 1
}
mkdir -p "$(dirname "$DEST")"
mv "$tmp/model.onnx" "$DEST"
