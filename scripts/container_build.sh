#!/usr/bin/env bash
# CI stage 5: build the image when a container engine's daemon answers; otherwise say why not.
set -euo pipefail
cd "$(dirname "$0")/.."
for engine in docker podman; do
  if command -v "$engine" >/dev/null 2>&1; then
    if reason=$("$engine" info 2>&1 >/dev/null); then
      echo "building the image with $engine"
      exec "$engine" build --tag voiceflow:ci .
    fi
    echo "container build skipped: $engine is installed but its daemon does not answer ($(echo "$reason" | tail -n 1))"
    exit 0
  fi
done
echo "container build skipped: no container engine (docker or podman) on this machine;" \
  "the Dockerfile and compose.yaml were checked statically in the deployment stage"
