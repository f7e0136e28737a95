"""Shared helpers for the deployment tests: the settings tree as environment variable names."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from assistant.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
ENV_NAME = re.compile(r"\bAUTONOMIE_[A-Z0-9_]+")
# Read by the settings loader itself rather than a field (checked against its source below).
LOADER_VARIABLES = {"AUTONOMIE_CONFIG_DIR"}


def settings_env_names(model: type[BaseModel] = Settings, prefix: str = "AUTONOMIE_") -> set[str]:
    """Every AUTONOMIE_<SECTION>__<FIELD> the settings tree accepts (nested models recurse)."""
    names = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= settings_env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


@pytest.fixture(scope="session")
def known_env_names() -> set[str]:
    source = (PROJECT_ROOT / "assistant" / "settings.py").read_text(encoding="utf-8")
    assert all(name in source for name in LOADER_VARIABLES)
    return settings_env_names() | LOADER_VARIABLES


def unknown_settings(text: str, known: set[str]) -> set[str]:
    return set(ENV_NAME.findall(text)) - known
