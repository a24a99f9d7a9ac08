"""GoalProgress without ROS: which ticks and steps count, and when a goal ends."""

from __future__ import annotations

from vla_wm_ros.control.goal_progress import GoalProgress


def test_simulator_word_decides_when_it_reports():
    progress = GoalProgress("g", success_reward=1.0, success_ticks=2)
    assert not progress.on_episode("other", 5, True, False)  # another goal's episode
    assert progress.on_episode("g", 1, False, False) and progress.simulated
    for _ in range(5):  # high predicted reward does not count once a simulator reports
        progress.on_plan("g", "ok", 3.0, 2.0)
    assert progress.outcome is None and progress.feedback.step == 1
    progress.on_episode("g", 7, True, False)
    assert progress.outcome.success and "simulator" in progress.outcome.message
    assert progress.feedback.step == 7
    assert not progress.on_episode("g", 8, False, True)  # ended: nothing changes it


def test_learned_signal_needs_consecutive_planned_ticks():
    progress = GoalProgress("g", success_reward=1.0, success_ticks=3)
    for status, reward in [("ok", 2.0), ("ok", 2.0), ("stale_state", 2.0), ("ok", 0.5)]:
        progress.on_plan("g", status, 0.0, reward)
    assert progress.outcome is None  # a hold and a low reward broke the runs
    for _ in range(3):
        progress.on_plan("g", "deadline", 4.0, 1.5)
    assert progress.outcome.success and progress.feedback.step == 7
    assert progress.feedback.predicted_return == 4.0 and progress.feedback.status == "deadline"


def test_end_from_outside_and_tick_limit():
    progress = GoalProgress("g", max_ticks=2)
    progress.on_plan("g", "ok", 0.0, 0.0)
    progress.end("cancelled")
    assert not progress.outcome.success and progress.outcome.message == "cancelled"
    limited = GoalProgress("h", max_ticks=2, simulated=False)
    assert not limited.on_plan("g", "ok", 0.0, 0.0)
    limited.on_plan("h", "ok", 0.0, 0.0)
    limited.on_plan("h", "ok", 0.0, 0.0)
    assert limited.outcome is not None and "within 2 ticks" in limited.outcome.message
