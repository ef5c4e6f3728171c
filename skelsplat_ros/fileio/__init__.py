# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
