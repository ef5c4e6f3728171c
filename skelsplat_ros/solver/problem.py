# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What an objective is given (:class:`Problem`) and gives back (:class:`Fit`).

Every objective (:mod:`skelsplat_ros.solver.objectives`) is one function
``fit(problems: Sequence[Problem]) -> List[Fit]`` that fits one or several people at once.
"""

from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np
from skelsplat_ros.cameras import CameraRig
from skelsplat_ros.skeletons import Skeleton


@dataclass
class Problem:
    """One person's fit in one frame group, as :func:`.core.solve_people` sets it up.

    Attributes:
        rig: the cameras.
        config: the :class:`skelsplat_ros.solver.SolverConfig`.
        skeleton: the joint set.
        init: (J, 3) start, NaN where nothing is known.
        known: (J,) bool, the joints with a start.
        points: (V, J, 2) undistorted detections.
        weights: (V, J) confidences of the supporting views, else 0.
        inliers: (V, J) bool, the supporting views.
        person_index: (V,) candidate used in each view, -1 for none.
        outvoted: (V,) bool, views left out whole.
        prediction: (J, 3) the motion prediction, NaN where unknown; None without one.
        shapes: the previous fit's Gaussian log-scales (J, 3) and quaternions (J, 4), which
            start this one; None to start from the target's width.

    """

    rig: CameraRig
    config: Any
    skeleton: Skeleton
    init: np.ndarray
    known: np.ndarray
    points: np.ndarray
    weights: np.ndarray
    inliers: np.ndarray
    person_index: np.ndarray
    outvoted: np.ndarray
    prediction: Optional[np.ndarray] = None
    shapes: Optional[Tuple[Any, Any]] = None


@dataclass
class Fit:
    """An objective's result for one person.

    Attributes:
        means: (J, 3) fitted joints (meaningless where the problem's start was unknown).
        log_scales: (J, 3) torch tensor of the fitted Gaussians' log-scales; None when the
            objective fits no shapes.
        quats: (J, 4) torch tensor of their rotations, or None.
        iterations: steps taken.
        loss: final loss (NaN when the objective does not report one).
        detection_sigma_px: (V,) the target heatmap's width in each view, full-resolution
            pixels.

    """

    means: np.ndarray
    log_scales: Any
    quats: Any
    iterations: int
    loss: float
    detection_sigma_px: np.ndarray
