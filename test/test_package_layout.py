# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The package layout: colcon in both install modes, and the ROS-free core.

The messages and the hand-written modules share the Python name `skelsplat_ros` (README,
"Package layout").  These tests build the package with colcon in copy mode into a temporary
directory, check the symlink-mode install that `make setup` made, and check that neither
build touches the source tree.
"""

import os
import pathlib
import subprocess
import sys
import sysconfig

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SITE = pathlib.Path('lib') / f'python{sys.version_info[0]}.{sys.version_info[1]}' / 'site-packages'
CORE_MODULES = ['skelsplat_ros.skeletons', 'skelsplat_ros.cameras', 'skelsplat_ros.triangulation',
                'skelsplat_ros.render', 'skelsplat_ros.solver', 'skelsplat_ros.imaging',
                'skelsplat_ros.sync', 'skelsplat_ros.live', 'skelsplat_ros.detect',
                'skelsplat_ros.cli']


def _source_status():
    out = subprocess.run(['git', 'status', '--porcelain', '--', 'skelsplat_ros', 'msg'],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout


def _import_from(install_site, code):
    env = dict(os.environ, PYTHONPATH=str(install_site))
    return subprocess.run([sys.executable, '-c', code], env=env, cwd='/',
                          capture_output=True, text=True)


@pytest.mark.ros
def test_copy_install_merges_messages_and_modules(tmp_path):
    before = _source_status()
    build = subprocess.run(
        ['bash', str(ROOT / 'scripts' / 'setup.sh'), 'colcon-build', str(tmp_path / 'build'),
         str(tmp_path / 'install')],
        capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    site = tmp_path / 'install' / 'skelsplat_ros' / SITE
    result = _import_from(site, (
        'import skelsplat_ros.msg as m, skelsplat_ros.cameras as c;'
        'print(m.__file__); print(c.__file__); print(m.HumanPose3DArray.__name__)'))
    assert result.returncode == 0, result.stderr
    msg_file, module_file, name = result.stdout.split()
    assert msg_file.startswith(str(site)) and module_file.startswith(str(site))
    assert not pathlib.Path(module_file).is_symlink()
    assert name == 'HumanPose3DArray'
    assert _source_status() == before, 'the colcon build changed the source tree'


@pytest.mark.ros
def test_symlink_install_points_at_sources():
    site = ROOT / 'install' / 'skelsplat_ros' / SITE / 'skelsplat_ros'
    cameras = site / 'cameras.py'
    assert cameras.is_symlink() and cameras.resolve() == ROOT / 'skelsplat_ros' / 'cameras.py'
    # Generated files stay in build/, never in the source tree.
    assert (site / 'msg' / '__init__.py').exists()
    assert not (ROOT / 'skelsplat_ros' / 'msg').exists()
    assert not (site / 'msg' / '__init__.py').resolve().is_relative_to(ROOT / 'skelsplat_ros')


def test_core_imports_without_ros():
    blocked = ['rclpy', 'sensor_msgs', 'geometry_msgs', 'std_msgs', 'visualization_msgs']
    code = ('import sys\n'
            f'for name in {blocked!r}:\n'
            '    sys.modules[name] = None  # any import of it now raises ImportError\n'
            f'for name in {CORE_MODULES!r}:\n'
            '    __import__(name)\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, '-c', code], env=env, cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_pip_install_gives_the_cli(tmp_path):
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    # --no-deps: the test is about packaging, the dependencies are the venv's business.
    install = subprocess.run(
        [str(venv / 'bin' / 'pip'), 'install', '--quiet', '--no-deps', str(ROOT)],
        capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    result = subprocess.run([str(venv / 'bin' / 'skelsplat'), '--help'],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ('solve',):
        assert command in result.stdout
    purelib = sysconfig.get_path('purelib', vars={'base': str(venv), 'platbase': str(venv)})
    assert (pathlib.Path(purelib) / 'skelsplat_ros' / 'cameras.py').is_file()
