"""`s2s compare -o FILE.png`: BLEU by source-length bucket, one line per run, counts under each bucket.

A bucket of few sentences gets a hollow marker: corpus BLEU over a handful of sentences swings wildly.

The scores come from `s2s.compare.compare`; this module only draws them.
"""

from __future__ import annotations

from pathlib import Path

from s2s.compare import Comparison
from s2s.wording import count

FEW = 20  # a bucket with fewer sentences gets a hollow marker: its BLEU is too noisy to read much into


def plot_by_length(result: Comparison, out: Path) -> Path:
    from s2s.plots import figure, save

    labels = [f"{b.label}\n(n={b.count})" for b in result.buckets]
    with figure(7.5, 4.6, [r.name for r in result.runs]) as fig:
        ax = fig.add_subplot()
        xs = list(range(len(result.buckets)))
        for i, run in enumerate(result.runs):
            points = [(x, v) for x, v in zip(xs, run.bucket_bleu) if v is not None]
            if not points:
                continue
            px, py = zip(*points)
            name = f"{run.name} ({run.arch})" if run.arch and run.arch not in run.name else run.name  # None: --hyp
            colour = f"C{i % 10}"
            ax.plot(px, py, marker="o", linewidth=2, color=colour, label=f"{name}: BLEU {run.bleu:.1f}")
            few = [(x, y) for x, y in points if result.buckets[x].count < FEW]
            if few:
                ax.plot(*zip(*few), linestyle="none", marker="o", markersize=7, color=colour, markerfacecolor="white")
        ax.set_xticks(xs, labels)
        ax.set_xlabel(f"source length ({result.unit})")
        ax.set_ylabel("BLEU within the bucket")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
        if any(b.count < FEW for b in result.buckets):
            ax.text(0.99, 0.01, f"hollow: fewer than {FEW} sentences", transform=ax.transAxes, ha="right",
                    va="bottom", fontsize=8, color="grey")
        ax.set_title(f"BLEU by source length ({count(result.sentences, 'sentence')})", fontsize=10, loc="left")
        return save(fig, out)
