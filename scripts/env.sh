# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
#
# Source this (bash) after scripts/setup.sh: the venv's ROS 2 Jazzy plus our colcon install space,
# with DDS confined to this machine.
_skelsplat_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SKELSPLAT_CACHE=${SKELSPLAT_CACHE:-$HOME/.cache/skelsplat_ros}
export VIRTUAL_ENV=${SKELSPLAT_VENV:-$SKELSPLAT_CACHE/venv}
export PATH="$VIRTUAL_ENV/bin:$PATH"
# The venv is the ROS prefix of the PyPI wheels (share/<pkg>, lib/).
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
# shellcheck disable=SC1091
. "$_skelsplat_root/install/setup.sh"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-42}
export SKELSPLAT_DATA=${SKELSPLAT_DATA:-$SKELSPLAT_CACHE/data}
unset _skelsplat_root
