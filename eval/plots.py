"""Report figures as inline base64 PNG (matplotlib, no display needed)."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from eval.judge import MEASURED  # noqa: E402
from eval.summary import CATEGORY_METRICS, METRICS  # noqa: E402

QUALITY = [i.name for i in METRICS if i.higher_is_better]
BLUE, GREY, ORANGE = "#1f5fa8", "#9aa5b1", "#e07b24"


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def metric_bars(summary: dict[str, Any]) -> str:
    names = [n for n in QUALITY if summary["metrics"][n]["status"] == MEASURED]
    values = [summary["metrics"][n]["value"] for n in names]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(names) + 1))
    ax.barh(names[::-1], values[::-1], color=BLUE)
    for y, v in enumerate(values[::-1]):
        inside = v > 0.9
        ax.text(v - 0.01 if inside else v + 0.01, y, f"{v:.2f}", va="center", ha="right" if inside else "left",
                fontsize=8, color="white" if inside else "black")
    ax.set_xlim(0, 1)
    ax.set_title("Métriques mesurées (0 à 1)")
    return _png(fig)


def category_breakdown(summary: dict[str, Any]) -> str:
    categories = sorted(summary["per_category"])
    shown = [n for n in CATEGORY_METRICS if any(summary["per_category"][c].get(n) is not None for c in categories)]
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / max(len(shown), 1)
    for i, name in enumerate(shown):
        values = [summary["per_category"][c].get(name) or 0.0 for c in categories]
        ax.bar([x + i * width for x in range(len(categories))], values, width, label=name)
    ax.set_xticks([x + width * (len(shown) - 1) / 2 for x in range(len(categories))], categories, rotation=15)
    ax.set_ylim(0, 1.05)
    ax.set_title("Par catégorie de question (absent = 0 sur le graphique, voir le tableau)")
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    return _png(fig)


def latency_histogram(latencies: list[float]) -> str:
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.hist(latencies, bins=min(30, max(5, len(latencies) // 3)), color=BLUE)
    ax.set_xlabel("secondes par question")
    ax.set_ylabel("questions")
    ax.set_title("Latence de bout en bout")
    return _png(fig)


def previous_comparison(summary: dict[str, Any], previous: dict[str, Any]) -> str:
    names = [n for n in QUALITY if summary["metrics"][n]["status"] == MEASURED
             and previous["metrics"].get(n, {}).get("status") == MEASURED]
    fig, ax = plt.subplots(figsize=(10, 4))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [previous["metrics"][n]["value"] for n in names], 0.4, label="run précédent", color=GREY)
    ax.bar([x + 0.2 for x in xs], [summary["metrics"][n]["value"] for n in names], 0.4, label="ce run", color=ORANGE)
    ax.set_xticks(list(xs), names, rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.legend()
    ax.set_title("Comparaison avec le run précédent")
    return _png(fig)
