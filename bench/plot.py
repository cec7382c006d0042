"""Draw bench/results/*.json as PNG charts: per scenario, throughput and median latency of each target.

    .venv/bin/python bench/plot.py                      # every run in bench/results -> docs/img/
    .venv/bin/python bench/plot.py RUN.json --out DIR

One PNG per run: the top row is tokens/s per scenario (bar: the mean of the reps; whisker: their min..max),
the bottom row p50 latency in ms (same); under each bar, how many clients sent requests at once.
matplotlib comes with the ``bench`` extra (pip install -e ".[bench]").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
COLORS = {"bge-local": "#1f6fd1", "seed-http": "#d9480f", "in-process": "#868e96", "infinity": "#2b8a3e"}
ROWS = (("tokens_per_s", "tokens/s"), ("p50_ms", "p50 latency (ms)"))


def _label(report: dict[str, Any], target: str) -> str:
    info = report.get("targets", {}).get(target, {})
    if target == "in-process":
        return "seeds' way in-process"
    return str(info.get("label", target)).replace(" (HTTP)", "").replace(" (HTTP, 1 call/request)", "")


def plot_run(report: dict[str, Any], out: Path) -> Path:
    """One run's scenarios as a 2 x N grid of bar charts, saved to ``out`` (a .png path)."""
    import matplotlib

    matplotlib.use("Agg")  # no display
    import matplotlib.pyplot as plt

    scenarios = report["scenarios"]
    names = list(scenarios)
    fig, axes = plt.subplots(len(ROWS), len(names), figsize=(3.1 * len(names), 6.4), squeeze=False)
    targets: list[str] = []
    for col, name in enumerate(names):
        scenario = scenarios[name]
        results = {t: r for t, r in scenario["results"].items() if "summary" in r}  # not the skipped ones
        order = [t for t in COLORS if t in results] + [t for t in results if t not in COLORS]
        for t in order:
            if t not in targets:
                targets.append(t)
        for row, (metric, unit) in enumerate(ROWS):
            ax = axes[row][col]
            means = [results[t]["summary"][metric] for t in order]
            lows = [m - results[t]["summary"].get(f"{metric}_min", m) for t, m in zip(order, means, strict=True)]
            highs = [results[t]["summary"].get(f"{metric}_max", m) - m for t, m in zip(order, means, strict=True)]
            ax.bar(range(len(order)), means, color=[COLORS.get(t, "#495057") for t in order],
                   yerr=[lows, highs], capsize=3, error_kw={"elinewidth": 1, "ecolor": "#343a40"})
            ax.set_xticks(range(len(order)), [f"{results[t]['concurrency']} clients" for t in order], fontsize=7)
            ax.grid(axis="y", alpha=0.3)
            ax.set_axisbelow(True)
            ax.spines[["top", "right"]].set_visible(False)
            if row == 0:
                ax.set_title(f"({name}) {scenario['title']}", fontsize=9, wrap=True)
            if col == 0:
                ax.set_ylabel(unit)
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLORS.get(t, "#495057")) for t in targets]
    fig.legend(handles, [_label(report, t) for t in targets], loc="lower center", ncol=len(targets), frameon=False)
    machine = report.get("machine", {})
    model = report.get("models", {})
    extra = " ".join(report.get("server_args", []) + report.get("server_env", []))
    fig.suptitle(f"bge-local benchmark — {machine.get('name', '?')}, {machine.get('device', '?')}, "
                 f"{model.get('size', '?')} model, {report.get('reps', '?')} reps, commit {machine.get('commit', '?')}"
                 + (f" ({extra})" if extra else ""), fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", type=Path, help="result files (default: bench/results/*.json)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img", help="folder for the PNGs")
    args = parser.parse_args(argv)
    runs = args.runs or sorted((HERE / "results").glob("*.json"))
    if not runs:
        parser.error("no result files: run bench/run.py first")
    for path in runs:
        report = json.loads(path.read_text())
        print(plot_run(report, args.out / f"benchmark-{path.stem}.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
