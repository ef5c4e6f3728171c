# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What ROS4HRI (REP-155) says about each tracked body in one frame group, without ROS.

:class:`HriBodies` turns the people of a group into :class:`Body` records: the REP-155 body id
(:func:`skelsplat_ros.body_frames.body_id`), the human_description link frames
(:func:`skelsplat_ros.body_frames.model_frames`), the joint angles
(:func:`skelsplat_ros.human_model.solve_bodies`: every body's limbs at once), the body's
measured height and whether its URDF must be (re)sent, and the body's velocity in
``body_<id>``.  Only joints that at least
two views support count as located here: one view gives no depth, so no frame or angle.  It
remembers the heights of the bodies in view only, so it does not grow over a long run.
"""

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from skelsplat_ros import body_frames, human_model

__all__ = ['Body', 'body_twist', 'HriBodies', 'HEIGHT_STEP', 'MIN_VIEWS']

HEIGHT_STEP = 0.02  # metres: the URDF is sent again when the height estimate moves this much
MIN_VIEWS = 2  # views a joint needs to place a frame or drive a joint angle


@dataclasses.dataclass
class Body:
    """One body of a group, as ROS4HRI publishes it.

    Attributes:
        body_id: the REP-155 id (five characters).
        frames: the link frames, see :func:`skelsplat_ros.body_frames.model_frames`.
        solution: the joint angles and their errors (:class:`human_model.Solution`).
        height: the model height in metres (the running mean of the measured heights).
        urdf_due: whether the body's URDF is to be sent now (new body, or height changed).
        twist: ``(linear (3,), angular (3,))`` in ``body_<id>`` axes, m/s and rad/s, every
            value finite; None when the hips have no velocity claim.
    """

    body_id: str
    frames: list
    solution: human_model.Solution
    height: float
    urdf_due: bool
    twist: Optional[Tuple[np.ndarray, np.ndarray]]


def body_twist(geometry: body_frames.SkeletonGeometry, velocities) -> Optional[tuple]:
    """Return the velocity of ``body_<id>`` in its own axes, from the hips' velocities; or None.

    Linear: the mean of the two hips' velocities.  Angular: only the turn about the body's up
    axis, from how fast the hips move apart along the body's forward axis (the rates about
    the other two axes are not estimated and are zero).

    Args:
        geometry: the body's skeleton.
        velocities: (J, 3) joint velocities, world frame, NaN where there is no claim.
    """
    rotation, hips = geometry.body_rotation(), geometry.pair('hip')
    if rotation is None or hips is None or velocities is None:
        return None  # the hips not both located: no body origin to give a velocity of
    index = geometry.index
    left, right = (np.asarray(velocities[index[name]], dtype=float)
                   for name in ('left_hip', 'right_hip'))
    if not (np.isfinite(left).all() and np.isfinite(right).all()):
        return None
    width = np.linalg.norm(hips[0] - hips[1])
    linear = rotation.T @ (0.5 * (left + right))
    spread = rotation.T @ (left - right)
    # A turn w about z moves the left hip (at +y w/2) by -w * width / 2 along x.
    angular = np.array([0.0, 0.0, -spread[0] / width if width > 1e-3 else 0.0])
    if not (np.isfinite(linear).all() and np.isfinite(angular).all()):
        return None
    return linear, angular


class HriBodies:
    """Per-group ROS4HRI records of the tracked bodies (see the module docstring)."""

    def __init__(self):
        self._heights: Dict[str, Tuple[float, float, int]] = {}  # id -> (sent, sum, count)

    def update(self, people: Sequence, joint_names: Sequence[str],
               world_up=(0.0, 0.0, 1.0)) -> List[Body]:
        """Return one :class:`Body` per person of the group.

        Args:
            people: :class:`skelsplat_ros.live.PersonPose` of the group.
            joint_names: the people's joint names.
            world_up: the world's up direction.
        """
        records, heights = [], {}
        for person in people:
            body_id = body_frames.body_id(person.person_id)
            # A joint seen by one camera takes its depth from the prior or its neighbours: no
            # frame or joint angle is built on it.
            located = np.asarray(person.known) & (np.asarray(person.num_views) >= MIN_VIEWS)
            geometry = body_frames.SkeletonGeometry(person.positions, located, joint_names,
                                                    world_up)
            sent, total, count = self._heights.get(body_id, (None, 0.0, 0))
            measured = human_model.measured_height(person.positions, located, joint_names)
            if measured is not None:
                total, count = total + measured, count + 1
            height = total / count if count else human_model.DEFAULT_HEIGHT
            due = sent is None or abs(height - sent) >= HEIGHT_STEP
            heights[body_id] = (height if due else sent, total, count)
            records.append((person, body_id, geometry, height, due))
        # One inverse kinematics for the group: the limbs of every body are solved together.
        solutions = human_model.solve_bodies([record[2] for record in records])
        bodies = [Body(body_id=body_id, frames=body_frames.model_frames(geometry),
                       solution=solution, height=height, urdf_due=due,
                       twist=body_twist(geometry, person.velocities))
                  for (person, body_id, geometry, height, due), solution
                  in zip(records, solutions)]
        self._heights = heights  # bodies out of view are forgotten: no growth
        return bodies
