"""The image installs like ``make install`` (torch 2.13.0 CPU first, then the project) and runs as a user."""

from __future__ import annotations

import re

from assistant.settings import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            if current.strip():
                keyword, _, rest = current.strip().partition(" ")
                logical.append((keyword.upper(), rest.strip()))
            current = ""
    return logical


def test_base_image_and_offline_models():
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    env = " ".join(args for keyword, args in steps if keyword == "ENV")
    assert "HF_HUB_OFFLINE=1" in env and "AUTONOMIE_CONFIG_DIR=/app" in env


def test_torch_cpu_is_installed_before_the_project_like_the_makefile():
    runs = [args for keyword, args in instructions() if keyword == "RUN"]
    torch = next(i for i, run in enumerate(runs) if "torch==2.13.0" in run)
    project = next(i for i, run in enumerate(runs) if re.search(r"pip install \.(\s|$)", run))
    assert torch < project
    assert re.search(r"--index-url \S*", runs[torch]) and "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in DOCKERFILE.read_text()
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert makefile.index("torch==2.13.0") < makefile.index("pip install -q -e")


def test_settings_files_and_corpus_are_copied_for_the_prod_profile():
    copies = " ".join(args for keyword, args in instructions() if keyword == "COPY")
    for name in ("settings.yaml", "settings-prod.yaml", "corpus"):
        assert name in copies and (PROJECT_ROOT / name).exists()


def test_runs_as_non_root_serves_and_checks_health():
    steps = instructions()
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("ENTRYPOINT", '["autonomie"]') in steps
    assert ("CMD", '["serve", "--host", "0.0.0.0", "--port", "8000"]') in steps
    healthcheck = next(args for keyword, args in steps if keyword == "HEALTHCHECK")
    assert "http://127.0.0.1:8000/health" in healthcheck


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = set((PROJECT_ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".cache", "**/.env"} <= ignored
    assert not {"assistant", "indexing", "corpus", "pyproject.toml"} & ignored
