# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What a real ROS 2 install needs: rosdep keys that resolve, Python 3.10, TOML without tomllib.

Our CI runs Jazzy from PyPI wheels on Python 3.11, so a user's Humble (Ubuntu 22.04, Python
3.10) or Jazzy (24.04) workspace is checked here against the facts that decide it.
"""

import io
import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np
from skelsplat_ros.cameras import load_calibration
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Every key that `rosdep install` resolves on each distribution (see the README there).
ROSDEP_KEYS = ROOT.parent / 'shared' / 'rosdep-keys'
VERMIN = str(pathlib.Path(sys.executable).parent / 'vermin')
DEPENDENCY_TAGS = ('depend', 'build_depend', 'buildtool_depend', 'build_export_depend',
                   'exec_depend', 'test_depend', 'doc_depend')


def _package_keys():
    root = ElementTree.parse(ROOT / 'package.xml').getroot()
    return sorted({element.text.strip() for tag in DEPENDENCY_TAGS for element in root.iter(tag)})


def test_every_package_xml_key_resolves_on_humble_and_jazzy():
    keys = _package_keys()
    assert 'rclpy' in keys and 'python3-toml' in keys  # the parse found the dependencies
    for distribution in ('humble', 'jazzy'):
        listed = set((ROSDEP_KEYS / f'{distribution}.txt').read_text().split())
        missing = [key for key in keys if key not in listed]
        assert not missing, (f'rosdep cannot resolve {missing} on {distribution}: '
                             '`rosdep install` would stop and install nothing')


def test_every_module_runs_on_python_3_10():
    # vermin reports the minimum Python version each construct and library call needs.
    files = [str(p) for name in ('skelsplat_ros', 'launch', 'bench', 'test')
             for p in sorted((ROOT / name).rglob('*.py'))]
    files += [str(ROOT / 'setup.py'), str(ROOT / 'scripts' / 'skelsplat'),
              str(ROOT / 'scripts' / 'skelsplat_node')]
    result = subprocess.run([VERMIN, '--target=3.10-', '--violations',
                             '--no-tips', '--eval-annotations', '--backport', 'dataclasses',
                             *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Target versions not met' not in result.stdout, result.stdout


def test_toml_calibration_loads_without_tomllib(data_root):
    # Humble's Python 3.10 has no tomllib: the loader falls back to python3-toml.
    calibration = data_root / 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml'
    script = ('import sys, numpy as np; sys.modules["tomllib"] = None\n'
              'from skelsplat_ros import cameras\n'
              'assert cameras.tomllib.__name__ == "toml", cameras.tomllib\n'
              f'loaded = cameras.load_calibration({str(calibration)!r})\n'
              'np.save(sys.stdout.buffer, np.stack([np.concatenate([c.K.ravel(), c.dist, '
              'c.R.ravel(), c.t]) for c in loaded]))\n')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
    with_toml = np.load(io.BytesIO(result.stdout))
    with_tomllib = np.stack([np.concatenate([c.K.ravel(), c.dist, c.R.ravel(), c.t])
                             for c in load_calibration(calibration)])
    assert with_toml.shape == (4, 9 + 4 + 9 + 3)
    np.testing.assert_array_equal(with_toml, with_tomllib)


def _rviz_topics(display_tree):
    """Every ``Topic: {Value: ...}`` of an RViz config, depth first."""
    if isinstance(display_tree, dict):
        topic = display_tree.get('Topic')
        if isinstance(topic, dict) and 'Value' in topic:
            yield topic['Value']
        for value in display_tree.values():
            yield from _rviz_topics(value)
    elif isinstance(display_tree, list):
        for value in display_tree:
            yield from _rviz_topics(value)


def test_rviz_config_follows_the_namespace():
    # The launch file puts RViz in the node's namespace (namespace:=robot1), where a relative
    # topic resolves to the node's; an absolute one would show nothing there.
    config = yaml.safe_load((ROOT / 'config' / 'skelsplat.rviz').read_text())
    topics = list(_rviz_topics(config))
    assert 'human_pose_3d/markers' in topics and 'human_pose_3d/points' in topics
    absolute = [topic for topic in topics if topic.startswith('/')]
    assert not absolute, f'absolute topics in config/skelsplat.rviz: {absolute}'
    launch = (ROOT / 'launch' / 'multiview.launch.py').read_text()
    assert launch.count('namespace=namespace') == 2, 'both nodes of the launch file in it'
