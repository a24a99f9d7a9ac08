"""`vla-wm data merge`: several of our datasets -> one, for a run that learns from all.

Training and `train-value` read one dataset directory; a world model or value meant to
learn from demonstrations and from recorded DAgger rollouts (`vla-wm dagger --record`)
needs them in one. Episodes are copied as stored (frames, rewards, instruction, task,
seed, policy), sources in the order given. Only datasets whose images are the same
rendering merge: one model would otherwise learn from two views of one scene.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = ("data", "merge")
HELP = "copy several datasets of the same rendering into one (demonstrations + DAgger rollouts)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", help="dataset directories, merged in this order")
    parser.add_argument("--out", required=True, help="dataset directory (created)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.data.reader import EpisodeDataset
    from vla_wm_ros.data.writer import DatasetWriter
    from vla_wm_ros.sim.observation import ObservationSpec

    if len(args.sources) < 2:
        print("data merge: give at least two source datasets", file=sys.stderr)
        return 2
    try:
        sources = [EpisodeDataset(path) for path in args.sources]
        first = sources[0]
        seen = ObservationSpec.of_dataset(first.spec)
        for other, path in zip(sources[1:], args.sources[1:], strict=True):
            problems = first.spec.mismatches(other.spec)
            theirs = ObservationSpec.of_dataset(other.spec)
            if theirs != seen:
                problems.append(f"images rendered as {theirs.to_meta()}, not {seen.to_meta()}")
            if problems:
                raise DatasetError(
                    f"{path}: cannot merge into {args.sources[0]}: " + "; ".join(problems)
                )
        total = sum(s.num_episodes for s in sources)
        policies: dict[str, int] = {}
        with (
            DatasetWriter(args.out, first.spec) as writer,
            tqdm(total=total, desc="data merge", file=sys.stderr) as bar,
        ):
            for source in sources:
                for i in range(source.num_episodes):
                    episode = source.episode(i)
                    writer.add(episode)
                    policies[episode.policy] = policies.get(episode.policy, 0) + 1
                    bar.update(1)
    except DatasetError as exc:
        print(f"data merge: {exc}", file=sys.stderr)
        return 2
    summary = {
        "out": args.out,
        "episodes": total,
        "frames": sum(s.num_frames for s in sources),
        "sources": {str(p): s.num_episodes for p, s in zip(args.sources, sources, strict=True)},
        "policies": policies,
    }
    print(json.dumps(summary) if args.json else f"wrote {summary}")
    return 0
