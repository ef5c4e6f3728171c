# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The objectives a fit can minimise, by name, and the rule that picks one for 'auto'.

Each objective is a module with one function ``fit(problems) -> fits`` (see
:mod:`skelsplat_ros.solver.problem`) that fits one or several people at once.  A new objective
plugs in by a module and an entry in :data:`REGISTRY`; nothing else names objectives.
:mod:`.analytic_torch` is no entry: it batches the analytic objective over many frames for
offline work (:func:`skelsplat_ros.solver.solve_frames_analytic`).
"""

from skelsplat_ros.solver.objectives import analytic, rendered

REGISTRY = {
    'rendered': rendered.fit,
    'analytic': analytic.fit,
}
OBJECTIVES = ('auto',) + tuple(REGISTRY)


def resolve_objective(objective: str, device: str) -> str:
    """Return the objective that runs: 'auto' is rendered on a GPU, analytic on the CPU.

    On the CPU the rendered reference costs about 75 ms a frame for 4 views and the analytic
    closed form of the same loss about 4 ms (docs/realtime.md).  The node, ``skelsplat bag``
    and the CLI all choose by this rule.
    """
    if objective == 'auto':
        return 'rendered' if str(device).startswith('cuda') else 'analytic'
    return objective


def objective_fit(objective: str, device: str):
    """Return the ``fit`` function of ``objective`` (an :data:`OBJECTIVES` entry) on ``device``."""
    return REGISTRY[resolve_objective(objective, device)]
