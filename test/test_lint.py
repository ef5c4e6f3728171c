# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The usual ROS 2 lint tests (flake8, pep257) and a licence-header check of our own.

ament_copyright has no wheel on PyPI, so the copyright check is a plain test here.
"""

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYTHON_DIRS = ['skelsplat_ros', 'test', 'launch', 'bench', 'scripts']
LICENCE_LINES = ('# Copyright 2026 The skelsplat_ros Authors',
                 '# SPDX-License-Identifier: Apache-2.0')


def _python_files():
    files = []
    for name in PYTHON_DIRS:
        folder = ROOT / name
        files += sorted(p for p in folder.rglob('*.py') if '__pycache__' not in p.parts)
    files += [ROOT / 'setup.py', ROOT / 'scripts' / 'skelsplat',
              ROOT / 'scripts' / 'skelsplat_node']
    return files


@pytest.mark.linter
def test_flake8():
    from ament_flake8.main import main_with_errors
    rc, errors = main_with_errors(argv=[str(p) for p in _python_files()])
    assert rc == 0, f'{len(errors)} flake8 errors:\n' + '\n'.join(errors)


@pytest.mark.linter
def test_pep257():
    from ament_pep257.main import main
    # Google-style docstrings (Args:/Returns:, as gsplat writes them) instead of ament's
    # numpy-style default; ament's own default ignores (D100-D107) are kept.
    rc = main(argv=['--convention', 'google', '--add-ignore', 'D100', 'D101', 'D102', 'D103',
                    'D104', 'D105', 'D106', 'D107', '--',
                    *[str(p) for p in _python_files() if p.suffix == '.py']])
    assert rc == 0, 'pep257 errors (see the output above)'


def test_licence_headers():
    missing = []
    for path in _python_files():
        lines = path.read_text().splitlines()
        start = 1 if lines and lines[0].startswith('#!') else 0
        if tuple(lines[start:start + 2]) != LICENCE_LINES:
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, f'files without the licence header: {missing}'
