# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Configuration fields that carry their own description and bounds.

A configuration dataclass (:class:`skelsplat_ros.solver.SolverConfig`,
:class:`skelsplat_ros.tracking.TrackerConfig`) declares each field once with :func:`setting`:
its default, one line of description, and its bounds or choices.  :func:`check` validates a
whole instance (from ``__post_init__``), :func:`check_value` one value, and the ROS layer
generates its node parameters from the same fields (:func:`exposed`).  So a new parameter is
one field: one default and one bound check, wherever it is set from.
"""

import dataclasses
import math
from typing import Any, Iterator, Optional, Sequence

__all__ = ['check', 'check_value', 'describe', 'exposed', 'setting']


def setting(default, doc: str, *, low: Optional[float] = None, high: Optional[float] = None,
            low_open: bool = False, high_open: bool = False,
            choices: Optional[Sequence[str]] = None, node: bool = True):
    """Declare a configuration field.

    Args:
        default: the default value; its type (bool, int, float, str or None) is the field's.
        doc: one line saying what the field does, with its unit.
        low: smallest allowed value (numbers), None for no bound.
        high: largest allowed value (numbers), None for no bound.
        low_open: ``low`` itself is not allowed.
        high_open: ``high`` itself is not allowed.
        choices: the allowed strings.
        node: whether the ROS node exposes the field as a parameter.
    """
    metadata = {'doc': doc, 'low': low, 'high': high, 'low_open': low_open,
                'high_open': high_open, 'choices': tuple(choices) if choices else None,
                'node': node, 'kind': type(default)}
    return dataclasses.field(default=default, metadata=metadata)


def _bounds(meta) -> str:
    low, high = meta['low'], meta['high']
    if low is not None and high is not None:
        opening, closing = '(' if meta['low_open'] else '[', ')' if meta['high_open'] else ']'
        return f'in {opening}{low:g}, {high:g}{closing}'
    if low is not None:
        return f"{'>' if meta['low_open'] else '>='} {low:g}"
    if high is not None:
        return f"{'<' if meta['high_open'] else '<='} {high:g}"
    return 'finite'


def describe(field: dataclasses.Field) -> str:
    """One line: the field's description and its bounds or choices (a parameter description)."""
    meta = field.metadata
    if meta['choices']:
        return f"{meta['doc']} (one of {', '.join(meta['choices'])})"
    if meta['kind'] in (int, float):
        return f"{meta['doc']} ({_bounds(meta)})"
    return meta['doc']


def check_value(field: dataclasses.Field, value, name: Optional[str] = None) -> Any:
    """Return ``value`` as the field's type, or raise ValueError naming ``name`` and why.

    Numbers must be finite and within the field's bounds (an int field takes integers only, a
    float field takes integers too); strings must be one of the choices when there are some.
    """
    meta, name = field.metadata, name or field.name
    kind = meta['kind']
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f'{name}: expected true or false, got {value!r}')
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or (kind is int and not isinstance(value, int)):
            what = 'an integer' if kind is int else 'a number'
            raise ValueError(f'{name}: expected {what}, got {value!r}')
        low, high = meta['low'], meta['high']
        if not math.isfinite(value) \
                or (low is not None and (value < low or (meta['low_open'] and value == low))) \
                or (high is not None and (value > high or (meta['high_open'] and value == high))):
            raise ValueError(f'{name}: must be {_bounds(meta)}, got {value!r}')
        return kind(value)
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f'{name}: expected a string, got {value!r}')
        if meta['choices'] and value not in meta['choices']:
            raise ValueError(f"{name}: {value!r} is not one of {', '.join(meta['choices'])}")
        return value
    return value


def check(instance):
    """Validate every :func:`setting` field of a dataclass instance (raise ValueError)."""
    for field in dataclasses.fields(instance):
        if 'doc' in field.metadata:
            check_value(field, getattr(instance, field.name))


def exposed(config_class) -> Iterator[dataclasses.Field]:
    """Yield the fields of ``config_class`` that the ROS node offers as parameters, in order."""
    return (field for field in dataclasses.fields(config_class)
            if field.metadata.get('node') and field.metadata['kind'] in (bool, int, float, str))
