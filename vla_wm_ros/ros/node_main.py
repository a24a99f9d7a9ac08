"""The `main()` every node shares: init, spin until a stop signal, clean up, exit 0.

A node started by `ros2 run` / `ros2 launch` runs in its own process on a
single-threaded executor: rclpy's MultiThreadedExecutor busy-loops while a callback it
dispatched waits for a pool thread (see ros/in_process.py). rclpy's signal handlers are
not installed: SIGINT (Ctrl-C, what ros2 launch sends first) and SIGTERM (what launch
escalates to, and what systemd and docker send) both arrive as KeyboardInterrupt while
the context is still up, so the node's destroy_node() can still publish (the planner
sends its final hold there) before the context shuts down. During that clean-up further
SIGINT/SIGTERM are ignored: a second Ctrl-C must not cut the final hold or the
simulator's renderer shutdown short.

Once that clean-up is done the process leaves at once (`exit_now`): native library
finalisers at interpreter exit took ~6 s after Python's own atexit handlers with the
shipped model (measured on `vla-wm run`, 2-core machine), past launch's 5 s grace, after
which launch escalates to SIGTERM and SIGKILL. Nothing they do matters by then: the hold
is acknowledged, the renderer closed, the ROS context shut down.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import NoReturn

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def catch_stop_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt (also when SIGINT was inherited ignored,
    as a shell's background job inherits it)."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def ignore_stop_signals() -> None:
    """From here on SIGINT and SIGTERM are ignored: the clean-up runs to its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def exit_now(code: int = 0) -> NoReturn:
    """Flush logs and stdio, then end the process without the interpreter's teardown."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_node(node_class, args: list[str] | None = None) -> None:
    catch_stop_signals()
    node = None
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        node = node_class()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        ignore_stop_signals()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    exit_now(0)
