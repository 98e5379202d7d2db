"""Does more QA data still help the QAGen? Held-out loss against examples seen, from a run's log.

    python reproduce/qagen_learning_curve.py RUN_DIR [RUN_DIR ...] -o docs/results/qagen/learning_curve

Each RUN_DIR is a ``quals train-qagen`` output; the held-out losses come from the newest
``checkpoints/checkpoint-*/trainer_state.json`` (the Trainer's log, kept with the checkpoints), or,
where the checkpoints are gone, the final ``eval_loss`` of ``quals_qagen.json`` alone. Runs with
the same seed and ``eval_size`` share the held-out examples, so their curves compare directly.
Writes ``.json`` (the points) and ``.png``; prints, per run, the loss drop over its last quarter.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def curve(run: Path) -> dict:
    info = json.loads((run / "quals_qagen.json").read_text())
    config = info["config"]
    per_step = config["batch_size"] * config["gradient_accumulation_steps"] * info.get("world_size", 1)
    states = sorted((run / "checkpoints").glob("checkpoint-*/trainer_state.json"),
                    key=lambda p: int(p.parent.name.split("-")[1]))
    points = []
    if states:
        history = json.loads(states[-1].read_text())["log_history"]
        points = [(entry["step"] * per_step, entry["eval_loss"]) for entry in history if "eval_loss" in entry]
    final = (info["global_step"] * per_step, info["eval_loss"])
    if not points or points[-1][0] != final[0]:
        points.append(final)  # the loss after the last step, evaluated at the end of training
    return {"run": str(run), "train_examples": info["data"]["train_examples"], "seed": config["seed"],
            "eval_size": config["eval_size"], "points": points}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True, help="Path without suffix.")
    args = parser.parse_args()
    curves = [curve(run) for run in args.runs]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.output}.json").write_text(json.dumps(curves, indent=1) + "\n")
    for c in curves:
        points = c["points"]
        seen = points[-1][0]
        before = [p for p in points if p[0] <= 0.75 * seen]
        drop = "n/a"
        if before:
            drop = f"{before[-1][1] - points[-1][1]:+.4f} over the last {seen - before[-1][0]} examples"
        print(f"{c['run']}: {c['train_examples']} examples, final held-out loss {points[-1][1]:.4f}, drop {drop}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for c in curves:
        xs, ys = zip(*c["points"], strict=True)
        ax.plot(xs, ys, marker="o", ms=3, label=f"{c['train_examples']:,} examples (seed {c['seed']})")
    ax.set_xlabel("training examples seen (one epoch each; learning rate decays to 0 at the end)")
    ax.set_ylabel(f"held-out loss per token ({curves[0]['eval_size']} SQuAD dev pairs)")
    ax.set_title("QAGen: held-out QA loss against training data", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(f"{args.output}.png", dpi=110, metadata={"Software": None})
    plt.close(fig)


if __name__ == "__main__":
    main()
