"""Clean stop of real node processes (as `ros2 run` / `ros2 launch` start them) and of
`vla-wm run`: SIGTERM, SIGINT and a second SIGINT during clean-up still send the
planner's final hold and exit 0 within launch's grace period (5 s, measured from the
first signal)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from graph_fixtures import make_tiny_checkpoint

pytestmark = [pytest.mark.graph, pytest.mark.slow]

GRACE_S = 5.0  # launch's default sigterm_timeout


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def probe():
    import rclpy
    from graph_fixtures import Probe
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    probe = Probe(context, "clean_stop_probe")
    yield probe
    probe.close()
    context.try_shutdown()


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "MUJOCO_GL": "egl", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, cwd=os.path.dirname(os.path.dirname(__file__)),
    )  # fmt: skip


def _stop(process: subprocess.Popen, signals: list[int]) -> tuple[int, float, str]:
    """Send `signals` 0.1 s apart; (exit status, seconds to exit, output)."""
    start = time.monotonic()
    for i, sig in enumerate(signals):
        if i:
            time.sleep(0.1)
        process.send_signal(sig)
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return process.returncode, time.monotonic() - start, out


@pytest.mark.parametrize(
    "signals",
    [[signal.SIGTERM], [signal.SIGINT], [signal.SIGINT, signal.SIGINT]],
    ids=["sigterm", "sigint", "double-sigint"],
)
def test_planner_process_sends_the_final_hold_and_exits_0(model_dir, probe, signals):
    from std_msgs.msg import Float64MultiArray

    from vla_wm_ros.ros import qos

    name = f"stop_planner_{os.getpid()}_{len(signals)}_{signals[0]}"
    heard = []
    probe.node.create_subscription(
        Float64MultiArray, f"/{name}/action", lambda m: heard.append(time.monotonic()),
        qos.COMMAND,
    )  # fmt: skip
    process = _start(["-m", "vla_wm_ros.nodes.planner", "--ros-args", "-r", f"__node:={name}",
                      "-p", f"model_dir:={model_dir}", "-p", "backend:=eager",
                      "-p", "control_frequency:=5.0"])  # fmt: skip
    try:
        assert probe.spin_until(lambda: len(heard) >= 2, 60), "the planner never commanded"
    except AssertionError:
        process.kill()
        raise AssertionError(process.communicate()[0][-3000:]) from None
    sent_at = time.monotonic()
    rc, seconds, out = _stop(process, signals)
    probe.spin_for(0.3)
    assert rc == 0, out[-3000:]
    assert seconds < GRACE_S, f"took {seconds:.1f} s to exit"
    assert "hold sent on" in out and "Traceback" not in out, out[-3000:]
    assert any(t >= sent_at for t in heard), "no command after the signal"


def test_sim_bridge_survives_a_second_sigint_during_clean_up(probe):
    from vla_wm_interfaces.msg import EpisodeStatus
    from vla_wm_ros.ros import qos

    name = f"stop_sim_{os.getpid()}"
    heard = []
    probe.node.create_subscription(
        EpisodeStatus, f"/{name}/episode", lambda m: heard.append(m), qos.STATUS
    )
    process = _start(["-m", "vla_wm_ros.nodes.sim_bridge", "--ros-args", "-r", f"__node:={name}",
                      "-p", "image_size:=32"])  # fmt: skip
    assert probe.spin_until(lambda: len(heard) >= 3, 60), "the simulator never stepped"
    rc, seconds, out = _stop(process, [signal.SIGINT, signal.SIGINT])
    assert rc == 0 and "Traceback" not in out and "EGL" not in out, out[-3000:]
    assert seconds < GRACE_S, f"took {seconds:.1f} s to exit"


def test_vla_wm_run_stops_cleanly_on_sigterm(model_dir, probe):
    from std_msgs.msg import Float64MultiArray

    from vla_wm_ros.ros import qos

    heard = []
    probe.node.create_subscription(
        Float64MultiArray, "/sim_bridge/action", lambda m: heard.append(time.monotonic()),
        qos.COMMAND,
    )  # fmt: skip
    process = _start(["-m", "vla_wm_ros.cli", "run", "--sim", "mujoco", "--backend", "eager",
                      "--model-dir", str(model_dir)])  # fmt: skip
    assert probe.spin_until(lambda: len(heard) >= 2, 90), "the graph never commanded"
    sent_at = time.monotonic()
    rc, seconds, out = _stop(process, [signal.SIGTERM, signal.SIGINT])
    probe.spin_for(0.3)
    assert rc == 0 and "Traceback" not in out, out[-3000:]
    assert seconds < GRACE_S, f"took {seconds:.1f} s to exit"
    assert "hold sent on" in out and any(t >= sent_at for t in heard)
