"""The view probe: a CNN trained on first frames reads positions it was never shown."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vla_wm_ros.cli import main
from vla_wm_ros.evaluation.view_probe import ViewProbeConfig, errors_cm, first_frames


def test_first_frames_carry_the_goal_and_object_of_each_placement():
    cfg = ViewProbeConfig()
    images, targets = first_frames("push", cfg, range(3))
    assert images.shape == (3, 64, 64, 3) and images.dtype == np.uint8
    assert targets.shape == (3, 6)
    assert len({tuple(t) for t in targets.round(4)}) == 3  # three different placements
    again, same = first_frames("push", cfg, range(3))
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(targets, same)


def test_errors_are_distances_in_cm_against_an_image_blind_guess():
    truth = np.array([[0.0, 0.0, 0.0, 0.1, 0.0, 0.0], [0.0, 0.1, 0.0, 0.1, 0.0, 0.0]])
    offset = np.array([0.03, 0, 0, 0, 0, 0.04])
    out = errors_cm(truth + offset, truth, np.zeros(6))
    assert out["goal"]["cm"] == pytest.approx(3.0)
    assert out["object"]["cm"] == pytest.approx(4.0)
    assert out["goal"]["mean_guess_cm"] == pytest.approx(5.0)  # (0 + 10) / 2


@pytest.mark.slow
def test_the_push_goal_is_read_from_pixels_better_than_blind(capsys):
    # Push's goal sits on the table in plain view: even 120 placements and 400 updates
    # read it far better than the image-blind guess (1,000 / 3,000: ~0.3 cm vs ~5.8).
    args = "eval view-probe --tasks push --placements 120 --test-placements 30 --steps 400"
    assert main([*args.split(), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    goal = report["results"]["push"]["goal"]
    assert goal["cm"] < 0.6 * goal["mean_guess_cm"], goal
    assert main(["eval", "view-probe", "--tasks", "no-such-task"]) == 2
