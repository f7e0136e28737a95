"""The application service's own rules (its routes are tested over HTTP in tests/ui/ and tests/security/)."""

from __future__ import annotations

from assistant.application import _scrub_paths, _shown_path, file_label
from assistant.settings import PROJECT_ROOT


def test_health_paths_are_relative_to_the_project_or_its_data_folder():
    inside = str(PROJECT_ROOT / ".cache" / "qdrant" / "edge" / "autonomie")
    beside = str(PROJECT_ROOT.parent / "shared" / "data" / "qdrant")
    for detailed in (True, False):
        assert _shown_path(inside, detailed) == ".cache/qdrant/edge/autonomie"
        assert _shown_path(beside, detailed) == "../shared/data/qdrant"
        assert _shown_path("http://qdrant:6333", detailed) == "http://qdrant:6333"
        assert _shown_path("e5-small-local", detailed) == "e5-small-local"
        assert _shown_path(None, detailed) is None
    # Elsewhere on the server: the administrator (authenticated) sees the path, anyone else its name only.
    assert _shown_path("/srv/index/edge/autonomie", True) == "/srv/index/edge/autonomie"
    assert _shown_path("/srv/index/edge/autonomie", False) == "…/autonomie"


def test_no_server_path_reaches_users():
    assert _scrub_paths("Permission refusée : '/srv/autonomie/index/edge.lock'") == "Permission refusée : '…/edge.lock'"
    assert file_label("/srv/autonomie/corpus/national/circulaire.pdf") == "circulaire.pdf"
    assert file_label("corpus/fiches/apa.jsonl#12") == "apa.jsonl#12"
