# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Errors raised by the renderers."""


class RendererUnavailable(RuntimeError):
    """A rendering backend cannot run here (for example gsplat without CUDA)."""
