# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Small helpers for tests that send real DDS traffic over loopback."""

import time

import rclpy
from rclpy.executors import SingleThreadedExecutor


def spin_until(executor, predicate, timeout_s=10.0):
    """Spin `executor` until `predicate()` is true; return whether it became true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        executor.spin_once(timeout_sec=0.05)
    return predicate()


class RosContext:
    """An rclpy context with an executor, shut down on exit (one per test)."""

    def __enter__(self):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes = []
        return self

    def node(self, name, **kwargs):
        """Create a node in this context and add it to the executor."""
        node = rclpy.create_node(name, context=self.context, **kwargs)
        self.executor.add_node(node)
        self.nodes.append(node)
        return node

    def __exit__(self, *exc):
        for node in self.nodes:
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown()
        rclpy.shutdown(context=self.context)
