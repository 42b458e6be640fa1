#!/usr/bin/env bash
# Creates the virtualenv and installs what voiceflow and its tests need.
# Debian packages are installed only when missing (needs root or sudo).
set -euo pipefail
PY=${1:-python3.11}
VENV=${2:-.venv}
command -v "$PY" >/dev/null 2>&1 || PY=python3

need_apt=()
for bin_pkg in "make:make" "gcc:gcc"; do
  bin=${bin_pkg%%:*}; pkg=${bin_pkg##*:}
  command -v "$bin" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

# Headless Chromium for the browser page test (tests/browser): the Debian package, only when missing.
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
fi

# espeak-ng: a second, unfamiliar voice for the recognizers' held-out measurements (never used for tuning).
if ! command -v espeak-ng >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y espeak-ng
fi

# flite: four more unfamiliar voices, for choosing recognizer settings (benchmarks/whisper_tuning.py);
# espeak-ng stays held out.
if ! command -v flite >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y flite
fi

# The scale-out tests and deployment checks run the real servers: Debian's redis-server,
# nginx (nginx -t and the native topology) and prometheus (promtool check config); only when missing.
need_ops=()
command -v redis-server >/dev/null 2>&1 || need_ops+=(redis-server)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need_ops+=(nginx)
command -v promtool >/dev/null 2>&1 || need_ops+=(prometheus)
if [ ${#need_ops[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${need_ops[@]}"
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# CPU build of torch first, so nothing pulls a CUDA build (setfit / sentence-transformers need torch).
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
"$VENV/bin/python" -m pip install -q -e ".[all,dev]"
# the smart-turn v3.2 end-of-turn model, extracted from the pipecat-ai wheel (never installed)
bash scripts/fetch_smart_turn.sh "$VENV"
