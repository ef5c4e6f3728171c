#!/usr/bin/env bash
# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
#
# Creates the benchmark-only venv holding Pose2Sim itself ($SKELSPLAT_CACHE/venv-pose2sim, about 2 GB),
# so that bench/accuracy.py can run Pose2Sim's own triangulation and filtering as a peer.  Never used by
# the tests.  Re-running is a no-op once the pinned version is installed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SKELSPLAT_CACHE:-$HOME/.cache/skelsplat_ros}
VENV=${SKELSPLAT_POSE2SIM_VENV:-$CACHE/venv-pose2sim}
PYTHON=${PYTHON:-python3.11}
REQUIREMENTS="$ROOT/requirements/pose2sim.txt"

want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ "$(cat "$VENV/.skelsplat-stamp" 2>/dev/null || true)" = "$want" ]; then
  echo "venv-pose2sim up to date ($VENV)"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off -r "$REQUIREMENTS"
"$VENV/bin/python" -c "from Pose2Sim import Pose2Sim"
echo "$want" > "$VENV/.skelsplat-stamp"
echo "venv-pose2sim ready ($VENV)"
