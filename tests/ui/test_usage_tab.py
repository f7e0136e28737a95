"""The « Usage » tab's content from a seeded event log: the figures of ``autonomie usage``, for usage groups only,
without personal data."""

from __future__ import annotations

import csv
import io

import pytest

from tests.ui.test_usage import _seed
from ui.auth import User
from assistant.application import RequestError
from ui.usage_tab import usage_panel

ADMIN = User(name="claire", groups=("admin",), can_upload=False, can_see_usage=True)
AGENT = User(name="alice", groups=("dep-59", "televersement"), can_upload=True)


def test_the_tab_shows_the_seeded_figures_and_no_personal_data(tmp_path):
    path = tmp_path / "avis.sqlite3"
    _seed(path)
    html, table = usage_panel(path, ADMIN, "")
    assert "<strong>4</strong> réponses" in html and "Abstention : <strong>25,0 %</strong>" in html
    assert "Prudence (confiance moyenne) : <strong>25,0 %</strong>" in html
    assert "Avis 👍 / 👎 : <strong>1 / 2</strong> (satisfaction 33,3 %)" in html
    assert "<th scope='row'>59</th><td>2</td>" in html and "<th scope='row'>APA</th><td>2</td>" in html
    assert "<th scope='row'>Circulaire</th><td>3</td>" in html and "<th scope='row'>Incomplète</th><td>2</td>" in html
    assert "<th scope='row'>Génération (LLM)</th><td>4,000 s</td>" in html
    assert html.count("<svg") == 8  # answers per day, then one plot per breakdown
    assert "<html" not in html  # a fragment for the tab
    for personal in ("Durand", "85 05 78", "06 12 34", "alice", "bruno", "Appelez"):
        assert personal not in html and personal not in table
    assert [row["questions"] for row in csv.DictReader(io.StringIO(table))] == ["2", "2"]

    html, table = usage_panel(path, ADMIN, " 2025-03-04 ")
    assert "depuis le 2025-03-04" in html and "<strong>2</strong> réponses" in html
    assert len(list(csv.DictReader(io.StringIO(table)))) == 1


def test_other_users_and_bad_dates_are_refused(tmp_path):
    path = tmp_path / "avis.sqlite3"
    _seed(path)
    with pytest.raises(RequestError) as refused:
        usage_panel(path, AGENT, "")
    assert refused.value.status == 403 and "ui.usage_groups" in refused.value.message
    with pytest.raises(RequestError) as bad:
        usage_panel(path, ADMIN, "hier")
    assert bad.value.status == 422 and "AAAA-MM-JJ" in bad.value.message
