# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Issue #20 without DDS: parameter bounds, the flood guard and the echo cap.

Every numeric node parameter, declared once with its bounds, refuses non-finite and
out-of-range values before anything uses it; names and defaults stay those of before.
"""

import math

from hypothesis import given, settings, strategies as st
import pytest
from skelsplat_ros.ros.camera_states import InputLimiter
from skelsplat_ros.ros.conversions import capped, ECHO_LIMIT
from skelsplat_ros.ros.params import CONFIG_FIELDS, config_from_values, NODE_FIELDS
from skelsplat_ros.ros.params import ParameterError, PARAMETERS, validate_update

# The node's own parameters and their defaults before they were declared as fields.
OWN_DEFAULTS = {
    'world_frame': 'world', 'extrinsics_source': 'calibration_file', 'tf_timeout': 0.05,
    'intrinsics_source': 'camera_info', 'calibration_file': '', 'detector': 'mediapipe',
    'onnx_model_path': '', 'model_path': '', 'detector_num_poses': 3,
    'detector_tracking': False, 'multi_person': True,
    'detector_max_side': 0, 'slop': 0.02,
    'max_wait': 0.1, 'min_views': 2, 'image_qos': 'sensor_data', 'device': 'auto',
    'skeleton': 'coco17', 'publish_markers': True, 'publish_points': True, 'publish_tf': True,
    'publish_covariance_ellipsoids': False, 'marker_lifetime': 0.5, 'input_timeout': 1.0,
    'diagnostics_period': 1.0, 'smoothing_lag': 0, 'detection_period': 0.0,
    # ROS4HRI (REP-155), issue 18.
    'frame_style': 'ros4hri', 'model_frames_by': 'node', 'publish_hri': True,
    'hri_grace_period': 10.0,
}
NUMERIC = sorted(name for name, field in {**NODE_FIELDS, **CONFIG_FIELDS}.items()
                 if field.metadata['kind'] in (int, float))


def _values(tmp_path, **changes):
    calibration = tmp_path / 'calibration.toml'
    calibration.write_text('')
    values = {name: default for name, (default, _) in PARAMETERS.items()}
    values.update(camera_names=['cam_01', 'cam_02'], calibration_file=str(calibration),
                  detector='keypoints_topic', **changes)
    return values


def test_names_and_defaults_are_kept():
    assert {name: PARAMETERS[name][0] for name in OWN_DEFAULTS} == OWN_DEFAULTS
    assert set(PARAMETERS) == set(OWN_DEFAULTS) | set(CONFIG_FIELDS)


@pytest.mark.parametrize('name', NUMERIC)
def test_every_number_is_finite_and_bounded(tmp_path, name):
    field = {**NODE_FIELDS, **CONFIG_FIELDS}[name]
    meta = field.metadata
    # Each has both bounds: nothing unbounded reaches a timer, a Duration or an int().
    assert meta['low'] is not None and meta['high'] is not None, name
    bad = [math.inf, -math.inf, math.nan, meta['high'] * 2 + 1, meta['low'] - 1]
    if meta['kind'] is int:
        bad += [2 ** 63, 1.5]
    for value in bad:
        with pytest.raises(ParameterError) as error:
            config_from_values(_values(tmp_path, **{name: value}))
        assert str(error.value).startswith(f'{name}: '), (name, value)


def test_marker_lifetime_fits_the_int32_seconds_of_a_duration():
    assert NODE_FIELDS['marker_lifetime'].metadata['high'] < 2 ** 31 - 1


def test_a_rejected_update_returns_no_configuration(tmp_path):
    config = config_from_values(_values(tmp_path))
    for name, value in (('slop', math.inf), ('max_wait', math.nan), ('min_views', 3),
                        ('marker_lifetime', 3e9), ('input_timeout', -1.0)):
        new, reason = validate_update(config, name, value)
        assert new is None and reason.startswith(f'{name}: ')
    new, reason = validate_update(config, 'slop', 0.5)
    assert reason == '' and new.slop == 0.5 and config.slop == 0.02


def test_the_flood_guard_limits_only_the_camera_that_floods():
    now = [0.0]
    limiter = InputLimiter(['a', 'b', 'c'], ratio=2.5, floor_hz=30.0, clock=lambda: now[0])
    taken = {'a': 0, 'b': 0, 'c': 0}
    for tick in range(3000):  # 3 s of 1 ms ticks: a at 333 Hz, b and c at 30 Hz
        now[0] = tick * 0.001
        names = (['a'] if tick % 3 == 0 else []) + (['b', 'c'] if tick % 33 == 0 else [])
        for name in names:
            taken[name] += limiter.admit(name)
    # b and c were never limited; a got about 2.5 times their rate, far below its 300 Hz.
    assert taken['b'] == taken['c'] == len(range(0, 3000, 33))
    assert 2.0 * taken['b'] <= taken['a'] <= 3.0 * taken['b'] + 30
    assert limiter.limit_hz('a') == pytest.approx(75.0, abs=10.0)


def test_the_flood_guard_allows_a_lone_camera_and_the_floor():
    now = [0.0]
    alone = InputLimiter(['a'], clock=lambda: now[0])
    assert all(alone.admit('a') for _ in range(400))  # no other camera to compare with
    limiter = InputLimiter(['a', 'b'], floor_hz=30.0, clock=lambda: now[0])
    admitted = sum(limiter.admit('a') for _ in range(100))  # b has not started yet
    assert admitted == 30


def test_echoed_text_is_capped():
    assert capped('short') == 'short'
    long = capped('x' * 65536)
    assert len(long) < ECHO_LIMIT + 40 and long.endswith(f'({65536 - ECHO_LIMIT} more characters)')


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(NUMERIC), value=st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-2 ** 70, 2 ** 70)))
def test_any_number_gives_a_bounded_configuration_or_a_parameter_error(tmp_path_factory, name,
                                                                       value):
    tmp_path = tmp_path_factory.mktemp('values')
    try:
        config = config_from_values(_values(tmp_path, **{name: value}))
    except ParameterError as error:
        assert str(error).startswith(f'{name}: ')
        return
    field = {**NODE_FIELDS, **CONFIG_FIELDS}[name]
    part, _, short = name.partition('_')
    got = getattr(getattr(config, part), short) if name in CONFIG_FIELDS else \
        getattr(config, name)
    assert math.isfinite(got) and field.metadata['low'] <= got <= field.metadata['high']
