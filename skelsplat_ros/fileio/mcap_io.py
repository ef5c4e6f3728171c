# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""rosbag2 MCAP files without a ROS install: write messages from dicts, read them back.

A file written here follows what ``ros2 bag record -s mcap`` writes, so that ``ros2 bag info``,
``ros2 bag play`` and Foxglove open it:

- MCAP profile ``ros2``; every channel has message encoding ``cdr`` and the channel metadata
  ``offered_qos_profiles`` (a YAML string; empty means "use the defaults when replaying");
- one schema per message type, named ``pkg/msg/Type``, encoding ``ros2msg``, whose data is the
  type's ``.msg`` text followed by the text of every type it depends on, each after a line of
  80 ``=`` and a ``MSG: pkg/Type`` line (rosbag2's ``MessageDefinitionCache`` layout);
- a metadata record ``rosbag2`` holding ``ROS_DISTRO``.

The ``.msg`` texts are read from ``share/<pkg>/msg/<Type>.msg`` under the prefixes of
``AMENT_PREFIX_PATH`` (the ROS wheels of the project's venv, our colcon install space), with
this package's own ``msg/`` directory as a fallback.  Messages are CDR-encoded by
``mcap-ros2-support`` from plain dicts (or objects with the message's attributes; ``byte``
fields must be ints).  rclpy messages are best written as the bytes of
``rclpy.serialization.serialize_message`` with :meth:`McapBagWriter.write_serialized` (rclpy
gives ``byte`` fields as ``bytes``, which mcap-ros2-support rejects).  Nothing here imports rclpy.
"""

import os
import pathlib
import re
import time

from mcap.reader import make_reader
from mcap.well_known import MessageEncoding, SchemaEncoding
from mcap.writer import CompressionType, Writer
# The encoder factory behind mcap_ros2.writer.Writer, which cannot set channel metadata.
from mcap_ros2._dynamic import serialize_dynamic
from mcap_ros2.decoder import DecoderFactory

__all__ = ['McapBagWriter', 'MessageDefinitionError', 'full_message_definition',
           'read_messages', 'read_summary']

ROS2_PROFILE = 'ros2'
LIBRARY = 'skelsplat_ros mcap_io'
_SEPARATOR = '=' * 80 + '\n'
# The field-type pattern and primitive names of rosbag2_storage_mcap/message_definition_cache.
_FIELD_TYPE = re.compile(r'(?:^|\n)\s*([a-zA-Z0-9_/]+)(?:\[[^\]]*\])?\s+')
_PRIMITIVES = frozenset((
    'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32',
    'uint32', 'int64', 'uint64', 'string', 'wstring'))
_TYPE_NAME = re.compile(r'^([a-zA-Z][a-zA-Z0-9_]*)/(?:msg/)?([a-zA-Z][a-zA-Z0-9_]*)$')
_OWN_MSG_DIR = pathlib.Path(__file__).resolve().parents[2] / 'msg'


class MessageDefinitionError(LookupError):
    """A message type whose ``.msg`` definition (or one of its dependencies) cannot be found."""


def _split_type_name(msg_type):
    match = _TYPE_NAME.match(msg_type)
    if not match:
        raise MessageDefinitionError(f'{msg_type!r} is not a message type name like '
                                     "'geometry_msgs/msg/Point'")
    return match.group(1), match.group(2)


def _msg_search_dirs(package, search_paths):
    prefixes = search_paths
    if prefixes is None:
        prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    dirs = [pathlib.Path(prefix) / 'share' / package / 'msg' for prefix in prefixes]
    if package == 'skelsplat_ros':
        dirs.append(_OWN_MSG_DIR)
    return dirs


def _read_msg_text(msg_type, search_paths):
    package, name = _split_type_name(msg_type)
    dirs = _msg_search_dirs(package, search_paths)
    for directory in dirs:
        path = directory / f'{name}.msg'
        if path.is_file():
            return path.read_text()
    searched = ', '.join(str(d) for d in dirs) or 'nothing (AMENT_PREFIX_PATH is empty)'
    raise MessageDefinitionError(f'no definition of {msg_type}: searched {searched}')


def _dependencies(text, package):
    """Return the sorted message types ``pkg/Type`` that a ``.msg`` text refers to."""
    found = set()
    for match in _FIELD_TYPE.finditer(text):
        field_type = match.group(1)
        if field_type in _PRIMITIVES:
            continue
        found.add(field_type if '/' in field_type else f'{package}/{field_type}')
    return sorted(found)


def full_message_definition(msg_type, search_paths=None):
    """Return the concatenated ``ros2msg`` definition of ``msg_type`` as rosbag2 writes it.

    Args:
        msg_type: ``'pkg/msg/Type'`` (or ``'pkg/Type'``).
        search_paths: install prefixes holding ``share/<pkg>/msg``; None reads
            ``AMENT_PREFIX_PATH``.

    Raises:
        MessageDefinitionError: when a definition is missing.
    """
    seen = set()

    def expand(type_name):
        text = _read_msg_text(type_name, search_paths)
        package, _ = _split_type_name(type_name)
        for dependency in _dependencies(text, package):
            if dependency not in seen:
                seen.add(dependency)
                text += '\n' + _SEPARATOR + f'MSG: {dependency}\n' + expand(dependency)
        return text

    return expand(msg_type)


def _normalised_type(msg_type):
    package, name = _split_type_name(msg_type)
    return f'{package}/msg/{name}'


class McapBagWriter:
    """Write ROS 2 messages into a rosbag2-compatible MCAP file.

    Use as a context manager, or call :meth:`close`::

        with McapBagWriter('out.mcap') as bag:
            bag.add_topic('/diagnostics', 'diagnostic_msgs/msg/DiagnosticArray')
            bag.write('/diagnostics', {'header': ..., 'status': []}, log_time_ns)

    Args:
        path: the ``.mcap`` file to create (parent directories are made).
        ros_distro: stored in the ``rosbag2`` metadata record.
        compression: ``'zstd'``, ``'lz4'`` or ``'none'`` (rosbag2 reads all three).
        search_paths: install prefixes for the ``.msg`` files; None reads ``AMENT_PREFIX_PATH``.
    """

    def __init__(self, path, ros_distro='jazzy', compression='zstd', search_paths=None):
        compressions = {'zstd': CompressionType.ZSTD, 'lz4': CompressionType.LZ4,
                        'none': CompressionType.NONE}
        if compression not in compressions:
            raise ValueError(f'compression must be one of {sorted(compressions)}, '
                             f'got {compression!r}')
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._search_paths = search_paths
        self._stream = self.path.open('wb')
        self._writer = Writer(self._stream, compression=compressions[compression])
        self._writer.start(profile=ROS2_PROFILE, library=LIBRARY)
        self._writer.add_metadata('rosbag2', {'ROS_DISTRO': ros_distro})
        self._schemas = {}     # msg type -> (schema id, encoder)
        self._channels = {}    # topic -> (channel id, msg type)
        self._sequence = {}    # topic -> next sequence number
        self._closed = False

    def add_topic(self, topic, msg_type, offered_qos_profiles=''):
        """Declare ``topic`` with message type ``msg_type`` (``'pkg/msg/Type'``).

        Adding the same topic again with the same type is a no-op.

        Raises:
            MessageDefinitionError: when the type's definition cannot be found.
            ValueError: when the topic already has another type.
        """
        msg_type = _normalised_type(msg_type)
        if topic in self._channels:
            if self._channels[topic][1] != msg_type:
                raise ValueError(f'{topic} already has type {self._channels[topic][1]}, '
                                 f'not {msg_type}')
            return
        if msg_type not in self._schemas:
            definition = full_message_definition(msg_type, self._search_paths)
            schema_id = self._writer.register_schema(
                name=msg_type, encoding=SchemaEncoding.ROS2, data=definition.encode())
            encoder = serialize_dynamic(msg_type, definition)[msg_type]
            self._schemas[msg_type] = (schema_id, encoder)
        channel_id = self._writer.register_channel(
            topic=topic, message_encoding=MessageEncoding.CDR,
            schema_id=self._schemas[msg_type][0],
            metadata={'offered_qos_profiles': offered_qos_profiles})
        self._channels[topic] = (channel_id, msg_type)
        self._sequence[topic] = 0

    def write(self, topic, message, log_time_ns=None, publish_time_ns=None):
        """CDR-encode and write one message (a dict, or an object with the fields).

        ``log_time_ns`` is the receive time in nanoseconds since the epoch (default: now);
        ``publish_time_ns`` defaults to it.  The topic must have been added.
        """
        channel_id, msg_type = self._channel(topic)
        self._add(topic, channel_id, self._schemas[msg_type][1](message), log_time_ns,
                  publish_time_ns)

    def write_serialized(self, topic, data, log_time_ns=None, publish_time_ns=None):
        """Write one message that is already CDR bytes (e.g. from rclpy's serialize_message)."""
        channel_id, _ = self._channel(topic)
        self._add(topic, channel_id, bytes(data), log_time_ns, publish_time_ns)

    def _channel(self, topic):
        if self._closed:
            raise ValueError(f'{self.path} is closed')
        try:
            return self._channels[topic]
        except KeyError:
            raise KeyError(f'{topic}: call add_topic() before writing to it') from None

    def _add(self, topic, channel_id, data, log_time_ns, publish_time_ns):
        log_time_ns = time.time_ns() if log_time_ns is None else int(log_time_ns)
        publish_time_ns = log_time_ns if publish_time_ns is None else int(publish_time_ns)
        self._writer.add_message(channel_id=channel_id, log_time=log_time_ns, data=data,
                                 publish_time=publish_time_ns, sequence=self._sequence[topic])
        self._sequence[topic] += 1

    def close(self):
        """Write the summary and close the file (idempotent)."""
        if not self._closed:
            self._closed = True
            try:
                self._writer.finish()
            finally:
                self._stream.close()

    def __enter__(self):
        """Return self, for ``with``."""
        return self

    def __exit__(self, *exc_info):
        """Close the file on leaving a ``with`` block."""
        self.close()


def read_messages(path, topics=None):
    """Yield ``(topic, log_time_ns, message)`` from a ROS 2 MCAP file, in log-time order.

    Messages are decoded from their ``ros2msg`` schemas by mcap-ros2-support into objects with
    the message's fields as attributes (no ROS install needed).

    Args:
        path: the ``.mcap`` file.
        topics: only these topics (an iterable of names); None for all.
    """
    with open(path, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        selected = None if topics is None else list(topics)
        for _, channel, message, decoded in reader.iter_decoded_messages(
                topics=selected, log_time_order=True):
            yield channel.topic, message.log_time, decoded


def read_summary(path):
    """Describe an MCAP file: what ``ros2 bag info`` would print, as a dict.

    Returns a dict with ``profile``, ``library``, ``message_count``, ``start_ns``, ``end_ns``,
    ``metadata`` (name -> dict) and ``topics``: topic -> dict(``type``, ``count``,
    ``message_encoding``, ``schema_encoding``, ``offered_qos_profiles``).

    Raises:
        ValueError: for a file without a summary section (an unfinished recording).
    """
    with open(path, 'rb') as stream:
        reader = make_reader(stream)
        header = reader.get_header()
        summary = reader.get_summary()
        if summary is None or summary.statistics is None:
            raise ValueError(f'{path}: no MCAP summary (was the file closed properly?)')
        metadata = {record.name: dict(record.metadata) for record in reader.iter_metadata()}
    topics = {}
    for channel_id, channel in summary.channels.items():
        schema = summary.schemas.get(channel.schema_id)
        topics[channel.topic] = {
            'type': schema.name if schema else '',
            'count': summary.statistics.channel_message_counts.get(channel_id, 0),
            'message_encoding': channel.message_encoding,
            'schema_encoding': schema.encoding if schema else '',
            'offered_qos_profiles': channel.metadata.get('offered_qos_profiles'),
        }
    stats = summary.statistics
    return {'profile': header.profile, 'library': header.library,
            'message_count': stats.message_count, 'start_ns': stats.message_start_time,
            'end_ns': stats.message_end_time, 'metadata': metadata, 'topics': topics}
