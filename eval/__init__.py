"""Evaluation suite: dataset, metrics, runner, report and quality gate (``make eval``)."""

import os

# ragas reports usage analytics unless told not to; the evaluation never phones home.
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
