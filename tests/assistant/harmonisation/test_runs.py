"""Stored matrix runs (SQLite) and the cells that changed between two runs."""

from __future__ import annotations

import pytest

from assistant.harmonisation.runs import RunNotFound, RunStore, diff
from tests.assistant.harmonisation.matrices import matrix


def test_runs_are_stored_and_read_back(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite3")
    first = matrix()
    run_id = store.save(first)
    assert run_id == first.run_id == 1
    again = store.get(run_id)
    assert again.model_dump() == first.model_dump()
    assert [r.id for r in store.runs()] == [1]
    with pytest.raises(RunNotFound, match="Exécution n° 42 inconnue"):
        store.get(42)


def test_previous_run_is_the_last_one_with_the_same_groups(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite3")
    public = matrix()
    store.save(public)
    store.save(matrix(groups=("dep-59",)))
    latest = matrix()
    store.save(latest)
    assert store.previous(latest).run_id == public.run_id
    assert store.previous(public) is None


def test_diff_shows_changed_status_and_quote_with_both_versions_and_changed_documents():
    before = matrix(q1_13="conforme", quote_13="La décision est notifiée dans un délai de deux mois.", hash_13="old")
    before.run_id = 1
    after = matrix(q1_13="contraire", quote_13="La décision est notifiée dans un délai de trois mois.", hash_13="new")
    after.run_id = 2
    result = diff(before, after)
    assert (result.before, result.after) == (1, 2)
    [change] = result.changes
    assert (change.question_id, change.territory, change.kind) == ("Q1", "13", "statut")
    assert (change.before.status, change.after.status) == ("conforme", "contraire")
    assert "deux mois" in change.before.quote and "trois mois" in change.after.quote
    assert change.documents == ["dep13-rdas"]
    assert result.changed_documents == {"dep13-rdas": ("old", "new")}


def test_diff_reports_a_new_quote_with_the_same_status_and_new_cells():
    before = matrix()
    after = matrix(quote_13="La décision intervient sous trois mois à compter du dépôt.")
    after.cells = [c for c in after.cells if not (c.question_id == "Q2" and c.territory == "59")]
    kinds = {(c.question_id, c.territory): c.kind for c in diff(before, after).changes}
    assert kinds == {("Q1", "13"): "extrait", ("Q2", "59"): "disparue"}
    assert {(c.question_id, c.territory): c.kind for c in diff(after, before).changes}[("Q2", "59")] == "nouvelle"
    assert diff(before, matrix()).changes == []
