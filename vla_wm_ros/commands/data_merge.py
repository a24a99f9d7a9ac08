"""`vla-wm data merge`: several of our datasets -> one, for a run that learns from all.

Training and `train-value` read one dataset directory; a world model or value meant to
learn from demonstrations and from recorded DAgger rollouts (`vla-wm dagger --record`)
needs them in one. Episodes are copied as stored (frames, rewards, instruction, task,
seed, policy), sources in the order given. Only datasets whose images are the same
rendering merge: one model would otherwise learn from two views of one scene.
`--tasks` / `--exclude-tasks` copy a subset (then one source is enough): e.g. a task's
demonstrations replaced by ones from a better expert.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = ("data", "merge")
HELP = "copy datasets of one rendering into one (demos + DAgger rollouts), all or some tasks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", help="dataset directories, merged in this order")
    parser.add_argument("--out", required=True, help="dataset directory (created)")
    parser.add_argument("--tasks", default="", help="comma-separated: copy only these tasks")
    parser.add_argument(
        "--exclude-tasks", default="", help="comma-separated: copy every task but these"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.data.reader import EpisodeDataset
    from vla_wm_ros.data.writer import DatasetWriter
    from vla_wm_ros.sim.observation import ObservationSpec

    keep = {t for t in args.tasks.split(",") if t}
    drop = {t for t in args.exclude_tasks.split(",") if t}
    if len(args.sources) < 2 and not (keep or drop):
        print(
            "data merge: give at least two source datasets, or --tasks / --exclude-tasks",
            file=sys.stderr,
        )
        return 2

    def wanted(task: str) -> bool:
        return (not keep or task in keep) and task not in drop

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
        chosen = [
            [i for i, meta in enumerate(s.episodes) if wanted(meta.task_name)] for s in sources
        ]
        total = sum(len(indices) for indices in chosen)
        if total == 0:
            raise DatasetError("no episode of the sources is of the tasks asked for")
        policies: dict[str, int] = {}
        frames = 0
        with (
            DatasetWriter(args.out, first.spec) as writer,
            tqdm(total=total, desc="data merge", file=sys.stderr) as bar,
        ):
            for source, indices in zip(sources, chosen, strict=True):
                for i in indices:
                    episode = source.episode(i)
                    writer.add(episode)
                    policies[episode.policy] = policies.get(episode.policy, 0) + 1
                    frames += source.episodes[i].length
                    bar.update(1)
    except DatasetError as exc:
        print(f"data merge: {exc}", file=sys.stderr)
        return 2
    summary = {
        "out": args.out,
        "episodes": total,
        "frames": frames,
        "sources": {str(p): len(i) for p, i in zip(args.sources, chosen, strict=True)},
        "policies": policies,
    }
    print(json.dumps(summary) if args.json else f"wrote {summary}")
    return 0
