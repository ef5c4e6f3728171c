# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""skelsplat_ros: multi-view 3D human skeletons with SkelSplat (see README.md).

Deliberately empty: in a colcon build, rosidl installs its own generated
``skelsplat_ros/__init__.py`` next to ``skelsplat_ros.msg`` and that file wins
(README, "Package layout").  Import the submodules directly.
"""
