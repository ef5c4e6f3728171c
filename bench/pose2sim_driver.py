# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Runs Pose2Sim's own pipeline on project folders; executed by the Pose2Sim venv's Python.

    python pose2sim_driver.py RATE_HZ PROJECT_DIR...

Each PROJECT_DIR holds ``calibration/``, ``pose/camN_json`` (OpenPose JSON), a ``pose_model``
file (the Pose2Sim skeleton model of that JSON: ``COCO_17``, ``BODY_25B``) and a ``mode``
file: ``per_frame`` (no interpolation, rejected points left missing) or ``default`` (Pose2Sim's
defaults: gaps interpolated, then filtered).  The configuration is the package's own
``Demo_SinglePerson/Config.toml``, copied into the project, with only these overrides: the
project folder, the frame rate (no video to read it from), the pose model, the per-frame
mode's two gap settings, and no figures, plots or .c3d (outputs only).  personAssociation
picks the person in each view, as Pose2Sim.runAll does before triangulation.  Only this file
imports Pose2Sim (see bench/peers.py).
"""

import pathlib
import shutil
import sys

import Pose2Sim as package
from Pose2Sim import Pose2Sim

TEMPLATE = pathlib.Path(package.__file__).parent / 'Demo_SinglePerson' / 'Config.toml'


def run(project, rate_hz):
    """Run personAssociation, triangulation and (default mode) filtering on ``project``."""
    mode = (project / 'mode').read_text().strip()
    pose_model = (project / 'pose_model').read_text().strip()
    # Its steps find the calibration folder next to a Config.toml.
    shutil.copy(TEMPLATE, project / 'Config.toml')
    triangulation = {'make_c3d': False}
    if mode == 'per_frame':
        triangulation.update(interpolation='none', fill_large_gaps_with='nan')
    config = {
        'project': {'project_dir': str(project), 'frame_rate': rate_hz},
        'pose': {'pose_model': pose_model},
        'triangulation': triangulation,
        'filtering': {'display_figures': False, 'save_filt_plots': False, 'make_c3d': False},
    }
    Pose2Sim.personAssociation(config)
    Pose2Sim.triangulation(config)
    if mode == 'default':
        Pose2Sim.filtering(config)


def main(argv):
    """Run every project given on the command line."""
    rate_hz = float(argv[0])
    rate_hz = int(rate_hz) if rate_hz.is_integer() else rate_hz
    for project in argv[1:]:
        run(pathlib.Path(project), rate_hz)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
