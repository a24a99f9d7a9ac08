"""sim_bridge's episode logic without ROS: resets, refused actions, held actions, the end."""

from __future__ import annotations

import time

import numpy as np

from vla_wm_ros.sim.env import MetaWorldEnv
from vla_wm_ros.sim.episode import SimEpisode


def _episode(action_timeout: float = 10.0) -> SimEpisode:
    return SimEpisode(
        lambda task, seed: MetaWorldEnv(task, seed, max_steps=3, render=False), action_timeout
    )


def test_an_episode_steps_until_its_limit_then_holds_until_reset():
    sim = _episode()
    first = sim.reset("reach", 1)
    assert (first.reward, first.success, sim.step, sim.done) == (0.0, False, 0, False)
    action = sim.check_action([2.0, -2.0, 0.5, 0.0])
    assert action.tolist() == [1.0, -1.0, 0.5, 0.0]  # clipped
    times = [sim.step_with(action).sim_time_ns for _ in range(3)]
    assert sim.done and sim.step == 3 and sim.step_with(action) is None
    dt = round(1e9 / sim.env.fps)
    assert first.sim_time_ns == dt, "a reset takes one step of time: no frame is stamped 0"
    assert times == [2 * dt, 3 * dt, 4 * dt]
    again = sim.reset("reach", 1)
    assert sim.step == 0 and not sim.done
    assert again.sim_time_ns == 5 * dt, "a reset's frame is newer than the last step's"
    assert np.allclose(again.obs.proprio, first.obs.proprio)  # same seed, same scene
    sim.close()


def test_bad_actions_and_resets_are_refused_and_change_nothing():
    sim = _episode()
    sim.reset("reach", 0)
    env = sim.env
    assert sim.check_action([0.0] * 3) == "3 values, the reach env takes 4"
    assert sim.check_action([np.nan] * 4) == "non-finite values"
    problem = sim.reset("no-such-task", 0)
    assert isinstance(problem, str) and "no-such-task" in problem
    assert sim.env is env and sim.task == "reach"
    sim.close()


def test_an_episode_reset_for_a_goal_takes_no_action_before_that_goal():
    """Evaluation resets, then sends the instruction; an action still on its way for the
    previous goal must not step the new episode."""
    sim = _episode()
    sim.reset("reach", 0, claimable=True)
    assert sim.check_action([0.1] * 4) == "the episode reset through ~/reset waits for its goal"
    assert sim.start_goal("g1", "reach") is None and sim.goal_id == "g1"  # claimed
    assert sim.check_action([0.1] * 4).tolist() == [0.1] * 4
    sim.close()


def test_a_held_action_is_replaced_by_hold_when_it_is_too_old():
    sim, reference = _episode(action_timeout=0.05), _episode()
    sim.reset("reach", 0)
    reference.reset("reach", 0)
    push, hold = np.array([1.0, 0.0, 0.0, 0.0]), np.zeros(4)
    got = [sim.step_held()]  # no action yet: hold
    sim.hold(push)
    got.append(sim.step_held())  # fresh: the held action
    time.sleep(0.1)
    got.append(sim.step_held())  # stale: hold again
    expected = [reference.step_with(a) for a in (hold, push, hold)]
    for g, e in zip(got, expected, strict=True):
        assert np.allclose(g.obs.proprio, e.obs.proprio)
    assert not np.allclose(got[1].obs.proprio, got[0].obs.proprio)
    sim.close()
    reference.close()
