"""DAgger on real Meta-World episodes and a tiny checkpoint trained by the tests.

- The cached features are the runtime's belief: the frozen world model's filter of a
  whole episode equals `ActorController`'s step-by-step belief, and the actor's NLL on
  cached rows equals the per-window BC loss on a window that starts at the episode's
  first frame with the posterior mode (the only windows where both are defined alike).
- A round of actor updates on cached features lowers the NLL of the demonstrations and
  leaves the world model untouched.
- `--record` appends every round's rollouts as a dataset: policy "dagger", the executed
  actions and the simulator's rewards in the collector's alignment (replaying the
  recorded actions from the recorded seed reproduces the recorded rewards), and
  `train-value` fits on it.
- Runs chain (`--ckpt` of one is the `--out` of the last) and keep their history.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vla_wm_ros.data.alignment import step_arrays
from vla_wm_ros.data.loader import split_episodes
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.evaluation.actor_rollout import ActorController
from vla_wm_ros.models.checkpoint import load_checkpoint
from vla_wm_ros.training.config import load_train_preset
from vla_wm_ros.training.trainer import MODEL_DIR, train

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def ckpt(sim_data, embedder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "tiny"
    torch.set_num_threads(1)
    train(sim_data, out, load_train_preset("tiny"), progress=False, embedder=embedder)
    return out / MODEL_DIR


def test_cached_features_are_the_runtime_belief_and_give_the_window_loss(ckpt, sim_data, embedder):
    from vla_wm_ros.training.bc_features import demo_features
    from vla_wm_ros.training.frozen_features import filtered_episodes
    from vla_wm_ros.training.stages import actor_nll, behaviour_cloning_loss

    wm = load_checkpoint(ckpt)
    dataset = EpisodeDataset(sim_data)
    meta = next(m for m in dataset.episodes if m.policy == "expert")
    (_, _, feature), *_ = filtered_episodes(wm, dataset, [meta], batch=4, progress=False)
    episode = dataset.episode(meta.index)
    goal = embedder([meta.instruction])[0]
    controller = ActorController(wm, goal)
    belief = []
    for t in range(episode.length):
        controller.act(episode.images[t], episode.state[t])
        belief.append(wm.feature(controller.state)[0])
        controller.prev_action = torch.from_numpy(episode.action[t])[None]
    torch.testing.assert_close(feature[0], torch.stack(belief), atol=1e-4, rtol=1e-4)

    rows = demo_features(wm, dataset, embedder, ("expert",), 0, 0.2, progress=False)
    train_ids, _ = split_episodes(dataset.num_episodes, 0.2, 0)
    train_expert = [
        dataset.episodes[i] for i in train_ids if dataset.episodes[i].policy == "expert"
    ]
    assert len(rows) == sum(m.length for m in train_expert)  # every frame, filtered once
    cached, labels, goal_index, goals = rows.table()
    assert cached.dtype == torch.float32 and cached.shape[1] == wm.rssm.feature_dim
    # the table's first episode as one window from its first frame, with the posterior mode
    first = train_expert[0]
    arrays = step_arrays(dataset.episode(first.index))
    arrays = {k: torch.from_numpy(v)[None] for k, v in arrays.items()}
    arrays["goal"] = goals[goal_index[0]].expand(1, first.length, -1)
    with torch.no_grad():
        window = behaviour_cloning_loss(wm, arrays, sample=False)
        mine = actor_nll(wm, cached[: first.length], goals[goal_index[: first.length]],
                         labels[: first.length])  # fmt: skip
        sampled = behaviour_cloning_loss(wm, arrays)  # the old default draws the posterior
    torch.testing.assert_close(mine, window, atol=1e-4, rtol=1e-4)
    print(f"\nwindow NLL: mode {float(window):.4f}, cached {float(mine):.4f}, "
          f"sampled posterior {float(sampled):.4f}")  # fmt: skip


def test_a_round_on_cached_features_lowers_the_demo_nll_and_keeps_the_world_model(
    ckpt, sim_data, embedder
):
    from vla_wm_ros.config import ConfigError
    from vla_wm_ros.training.bc_features import demo_features
    from vla_wm_ros.training.dagger import DaggerConfig, dagger
    from vla_wm_ros.training.stages import actor_nll

    wm = load_checkpoint(ckpt)
    demo_set = EpisodeDataset(sim_data)
    rows = demo_features(wm, demo_set, embedder, ("expert",), 0, 0.2, progress=False)
    demo_set.close()
    feature, label, goal_index, goals = rows.table()

    def demo_nll() -> float:
        with torch.no_grad():
            return float(actor_nll(wm, feature, goals[goal_index], label))

    before_nll = demo_nll()
    frozen = {k: v.clone() for k, v in wm.rssm.state_dict().items()}
    encoder = {k: v.clone() for k, v in wm.encoder.state_dict().items()}
    cfg = DaggerConfig(
        rounds=1, episodes_per_task=1, max_steps=16, bc_steps=60, batch_rows=64, lr=1e-3
    )
    result = dagger(wm, str(sim_data), ["reach"], cfg, embedder, val_fraction=0.2, progress=False)
    row = result["rounds"][0]
    print(f"\ndagger round: {row}; demo NLL {before_nll:.3f} -> {demo_nll():.3f}")
    assert row["episodes_aggregated"] == 1 and set(row["rollout_success"]) == {"reach"}
    assert row["bc_loss_last"] < row["bc_loss_first"]
    assert demo_nll() < before_nll
    assert all(torch.equal(frozen[k], v) for k, v in wm.rssm.state_dict().items())
    assert all(torch.equal(encoder[k], v) for k, v in wm.encoder.state_dict().items())
    with pytest.raises(ConfigError, match="seed"):  # placement seeds would pass 2**32
        DaggerConfig(seed=5000).validate()


def test_record_appends_every_rounds_rollouts_in_the_collectors_alignment(
    ckpt, sim_data, embedder, tmp_path
):
    from vla_wm_ros.cli import main
    from vla_wm_ros.sim.env import MetaWorldEnv
    from vla_wm_ros.training.value import ValueRunConfig, ValueTrainConfig, train_value

    record = tmp_path / "rollouts"
    args = ["dagger", "--ckpt", str(ckpt), "--data", str(sim_data), "--out", str(tmp_path / "o")]
    args += ["--tasks", "reach,drawer-close", "--rounds", "2", "--episodes", "1"]
    args += ["--max-steps", "12", "--bc-steps", "2", "--threads", "1", "--record", str(record)]
    assert main(args) == 0
    data = EpisodeDataset(record)
    assert data.num_episodes == 2 * 2  # rounds x tasks, appended round by round
    assert {m.policy for m in data.episodes} == {"dagger"}
    assert sorted(m.task_name for m in data.episodes) == ["drawer-close"] * 2 + ["reach"] * 2
    assert data.spec.mismatches(EpisodeDataset(sim_data).spec) == []  # can join the demos
    for meta in data.episodes:
        episode = data.episode(meta.index)
        assert episode.length == 12 and np.isfinite(episode.reward).all()
        assert episode.environment_state is not None
    # row t holds the action executed at t and the reward it earned: a replay agrees
    meta = data.episodes[0]
    episode = data.episode(meta.index)
    with MetaWorldEnv(task=meta.task_name, image_size=64, camera="orbit", max_steps=12) as env:
        obs = env.reset(seed=meta.seed)
        for t in range(episode.length):
            np.testing.assert_array_equal(obs.image, episode.images[t])
            step = env.step(episode.action[t])
            assert step.reward == pytest.approx(float(episode.reward[t]), rel=1e-5)
            assert step.success == bool(episode.success[t])
            obs = step.obs
    cfg = ValueRunConfig(train=ValueTrainConfig(steps=20, batch_size=32, val_fraction=0.25,
                                                eval_every=10, save_every=10,
                                                policies=["dagger"]))  # fmt: skip
    report = train_value(ckpt, record, tmp_path / "value", cfg, embedder, progress=False)
    assert report["train_transitions"] + report["val_transitions"] == 4 * 11
    assert np.isfinite(report["curve"][-1]["q"])


def test_dagger_cli_chains_runs_and_keeps_their_history(ckpt, sim_data, tmp_path):
    from vla_wm_ros.cli import main
    from vla_wm_ros.models.checkpoint import read_meta

    start, ckpts = ckpt, [tmp_path / "d1", tmp_path / "d2"]
    for seed, (source, out) in enumerate(zip([start, ckpts[0]], ckpts, strict=True)):
        args = ["dagger", "--ckpt", str(source), "--data", str(sim_data), "--out", str(out)]
        args += ["--tasks", "reach", "--rounds", str(seed + 1), "--episodes", "1"]
        args += ["--max-steps", "32", "--bc-steps", "2", "--seed", str(seed), "--threads", "1"]
        assert main([*args, *(["--save-rounds", "--lr", "1e-3"] if seed else [])]) == 0
    # the second run saved each of its two rounds; the last round is the final checkpoint
    rounds = [load_checkpoint(ckpts[1] / f"round-{r}").actor.state_dict() for r in (0, 1)]
    final = load_checkpoint(ckpts[1]).actor.state_dict()
    assert all(torch.equal(rounds[1][k], v) for k, v in final.items())
    assert any(not torch.equal(rounds[0][k], v) for k, v in final.items())
    assert len(read_meta(ckpts[1] / "round-0")["dagger_runs"][-1]["rounds"]) == 1
    assert read_meta(ckpts[1])["dagger_runs"][-1]["config"]["lr"] == 1e-3
    assert not (ckpts[0] / "round-0").exists()  # only with --save-rounds
    meta = read_meta(ckpts[1])
    assert [run["started_from"] for run in meta["dagger_runs"]] == [str(start), str(ckpts[0])]
    assert all(run["tasks"] == ["reach"] for run in meta["dagger_runs"])
    assert meta["stages"] == read_meta(start)["stages"]  # the training record is kept
    assert {p.name for p in ckpts[1].glob("dynamics_*")} == {
        p.name for p in start.glob("dynamics_*")
    }


def test_dagger_actor_size_clones_into_a_wider_actor_and_keeps_the_rest(ckpt, sim_data, tmp_path):
    """--actor-size: the saved checkpoint has an actor of the asked width and depth, trained
    by the round (not the initial draw), and every other weight is the source's."""
    from vla_wm_ros.cli import main
    from vla_wm_ros.training.init_model import fresh_actor

    source = load_checkpoint(ckpt)
    args = ["dagger", "--ckpt", str(ckpt), "--data", str(sim_data), "--out", str(tmp_path / "w")]
    args += ["--tasks", "reach", "--rounds", "1", "--episodes", "1", "--max-steps", "16"]
    args += ["--bc-steps", "3", "--beta", "1", "--threads", "1"]
    assert main([*args, "--actor-size", "48,3"]) == 0
    wide = load_checkpoint(tmp_path / "w")
    assert (wide.cfg.actor_critic.actor_hidden, wide.cfg.actor_critic.actor_layers) == (48, 3)
    linears = [m for m in wide.actor.modules() if isinstance(m, torch.nn.Linear)]
    assert wide.actor.net.feature_in.out_features == 48
    assert len(linears) == 5  # feature and goal inputs of layer one, two hidden, output
    kept = {k: v for k, v in source.state_dict().items() if not k.startswith("actor.")}
    assert all(torch.equal(wide.state_dict()[k], v) for k, v in kept.items())
    torch.manual_seed(0)
    untrained = fresh_actor(source, 48, 3).actor.state_dict()
    assert any(not torch.equal(untrained[k], v) for k, v in wide.actor.state_dict().items())
    # the same --seed draws the same fresh actor (and so, under torchrun, every process)
    args[args.index(str(tmp_path / "w"))] = str(tmp_path / "again")
    assert main([*args, "--actor-size", "48,3"]) == 0
    again = load_checkpoint(tmp_path / "again").actor.state_dict()
    assert all(torch.equal(again[k], v) for k, v in wide.actor.state_dict().items())
    assert wide.cfg.actor_critic.hidden == source.cfg.actor_critic.hidden  # the critic's
    for bad in ("48", "48,0", "a,2"):
        assert main([*args, "--actor-size", bad]) == 2
