"""The harmonisation matrix on a real small index (real embeddings, embedded Qdrant): statuses, citations,
visibility, stored runs, and a changed document showing up as changed cells in the next run."""

from __future__ import annotations

import pytest

from assistant.harmonisation.referentiel import parse_referentiel
from tests.conftest import make_settings
from tests.fixture_index import build_corpus

REFERENTIEL = """questions:
  - id: D1
    label: "Délai de décision"
    question: "Dans quel délai la décision d'APA est-elle notifiée ?"
    national:
      rule: "Décision notifiée dans les deux mois du dossier complet."
      doc_id: nat-apa
      section: "Article 2"
  - id: D2
    label: "Visite à domicile"
    question: "La visite à domicile est-elle obligatoire avant le plan d'aide ?"
    national:
      rule: "Visite à domicile obligatoire."
      doc_id: nat-apa
      section: "Article 3"
"""


def _build(folder, embedder):
    from assistant.services import Services

    settings = make_settings(folder)
    (folder / "ref.yaml").write_text(REFERENTIEL, encoding="utf-8")
    corpus = build_corpus(folder / "corpus")
    services = Services(settings)
    services.__dict__["embedder"] = embedder
    assert not services.ingestion_pipeline().run([corpus]).failed
    return services, corpus


def _service(services, runs_db):
    from assistant.harmonisation.service import HarmonisationService

    settings = services.settings.model_copy(update={"harmonisation": services.settings.harmonisation.model_copy(
        update={"runs_db": runs_db, "referentiel": services.settings.qdrant.path.parent / "ref.yaml"})})
    return HarmonisationService(settings, services.assistant.components)


@pytest.fixture(scope="module")
def shared_index(tmp_path_factory, embedder):
    services, corpus = _build(tmp_path_factory.mktemp("harmonisation"), embedder)
    yield services, corpus
    services.close()


@pytest.fixture
def harmonisation(shared_index, tmp_path):
    """(service with its own runs database, corpus folder, services) over the shared small index."""
    services, corpus = shared_index
    return _service(services, tmp_path / "runs.sqlite3"), corpus, services


@pytest.fixture
def own_index(tmp_path, embedder):
    """The same, over an index of this test's own (its documents may change)."""
    services, corpus = _build(tmp_path, embedder)
    yield _service(services, tmp_path / "runs.sqlite3"), corpus, services
    services.close()


def test_matrix_statuses_reasons_and_citations_of_each_territory(harmonisation):
    service, _, _ = harmonisation
    matrix, changes = service.run(groups=("dep-59",))
    assert changes is None  # first run: nothing to compare with
    assert matrix.territories == ["13", "59"] and [r.id for r in matrix.rows] == ["D1", "D2"]
    d1_13, d1_59 = matrix.cell("D1", "13"), matrix.cell("D1", "59")
    assert d1_13.status == "contraire" and "trois mois contre deux mois" in d1_13.reason.lower()
    assert d1_59.status == "divergent" and "45 jours" in d1_59.reason
    assert "Article 2" in matrix.rows[0].national_citations[0].section_path
    for cell in matrix.cells:
        if cell.status != "non_trouve":
            assert cell.citations and all(c.territory == cell.territory for c in cell.citations), cell
            passages = " ".join(c.text for c in cell.citations)
            assert all(sentence in passages for sentence in cell.quote.split(" […] ")), cell
    assert matrix.documents["dep13-rdas"] and matrix.timings["per_cell_s"] > 0
    assert matrix.run_id == 1


def test_cell_quote_is_an_answer_not_a_title_or_a_sub_heading(harmonisation):
    """A territory's section often opens with a title and a sub-heading question, and states its rule as a list:
    the cell quotes the list with its lead-in, never the title that repeats the row's words."""
    from assistant.retrieval.retriever import Passage

    service, _, _ = harmonisation
    question = parse_referentiel(REFERENTIEL).questions[0]  # D1, « Délai de décision »
    text = ("Délai de décision de l'APA\nQuel est le délai de décision ?\n"
            "Le président du conseil départemental notifie la décision dans les conditions suivantes :\n"
            "dans un délai de trois mois\nà compter du dépôt du dossier complet.")
    passage = Passage(point_id="p1", doc_id="dep13-rdas", title="RDAS", doc_type="pratique_territoriale",
                      territory="13", section_path="APA > Décision", text=text, score=1.0)
    evidence = service.builder._quote(question, [passage], [passage], 0.9)
    quotes = [s.text for s in evidence.sentences]
    assert quotes == ["Le président du conseil départemental notifie la décision dans les conditions suivantes :\n"
                      "dans un délai de trois mois\nà compter du dépôt du dossier complet."], quotes


def test_visibility_follows_the_readers_groups(harmonisation):
    service, _, _ = harmonisation
    public, _ = service.run()
    assert public.territories == ["13"]  # the Nord's guide is restricted to dep-59
    asked, _ = service.run(territories=["13", "59"], questions=["D1"])
    assert asked.cell("D1", "59").status == "non_trouve"
    assert "dep59-guide" not in asked.documents


def test_changed_document_shows_up_as_changed_cells_in_the_next_run(own_index):
    service, corpus, services = own_index
    first, _ = service.run(groups=("dep-59",), questions=["D1"])
    path = corpus / "dep13.md"
    path.write_text(path.read_text(encoding="utf-8").replace("dans un délai de trois mois", "dans un délai de deux mois"),
                    encoding="utf-8")
    assert services.ingestion_pipeline().run([corpus]).chunks_written > 0
    second, changes = service.run(groups=("dep-59",), questions=["D1"])
    assert changes.before == first.run_id and changes.after == second.run_id
    [change] = changes.changes
    assert (change.question_id, change.territory, change.kind) == ("D1", "13", "statut")
    assert (change.before.status, change.after.status) == ("contraire", "conforme")
    assert "trois mois" in change.before.quote and "deux mois" in change.after.quote
    assert change.documents == ["dep13-rdas"] and list(changes.changed_documents) == ["dep13-rdas"]
    # --depuis: against an explicit run; a run seen with wider groups is refused
    assert service.run(groups=("dep-59",), questions=["D1"], since=first.run_id)[1].changes[0].kind == "statut"
    with pytest.raises(ValueError, match="droits de lecture plus larges"):
        service.run(questions=["D1"], since=first.run_id)


def test_unknown_question_and_referentiel_errors(harmonisation, tmp_path):
    from assistant.harmonisation.referentiel import ReferentielError

    service, _, _ = harmonisation
    with pytest.raises(ReferentielError, match="inconnue"):
        service.run(questions=["Z9"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("questions:\n  - id: X\n", encoding="utf-8")
    with pytest.raises(ReferentielError, match="bad.yaml, ligne 2"):
        service.run(referentiel=bad)
    assert parse_referentiel(REFERENTIEL).questions[1].national.section == "Article 3"
