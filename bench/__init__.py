"""Benchmarks of ingestion, retrieval and answers (``make bench``; results in ``bench/results/``)."""
