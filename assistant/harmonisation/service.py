"""What the CLI and the UI call: build a matrix for a reader, store it, compare it with an earlier run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.answering.steps.analyse import choose_mode
from assistant.harmonisation.matrix import HarmonisationMatrix, MatrixBuilder, MatrixOptions, Progress
from assistant.harmonisation.referentiel import Referentiel, load_referentiel
from assistant.harmonisation.runs import RunDiff, RunStore, diff


class HarmonisationService:
    def __init__(self, settings: Any, components: Any):
        self.settings = settings
        self.components = components
        self.builder = MatrixBuilder(components, MatrixOptions.from_settings(settings.harmonisation))
        self.runs = RunStore(settings.resolve(settings.harmonisation.runs_db))

    def referentiel(self, path: Path | None = None) -> Referentiel:
        return load_referentiel(path or self.settings.resolve(self.settings.harmonisation.referentiel))

    def territories(self, groups: tuple[str, ...] = ()) -> list[str]:
        return self.builder.territories(groups)

    def run(self, *, groups: tuple[str, ...] = (), territories: list[str] | None = None, questions: list[str] | None = None,
            mode: str | None = "extractif", user: str = "", referentiel: Path | None = None, since: int | None = None,
            save: bool = True, progress: Progress | None = None) -> tuple[HarmonisationMatrix, RunDiff | None]:
        """Builds the matrix (``mode`` auto/None: generative when the LLM answers), stores it, and compares it
        with run ``since`` — by default the previous run seen with the same groups."""
        chosen = choose_mode(self.components, None if mode in (None, "", "auto") else mode)[0]
        table = self.referentiel(referentiel)
        earlier = self.runs.get(since) if since is not None else None
        if earlier is not None and not set(earlier.groups) <= set(groups):
            raise ValueError(f"L'exécution n° {since} a été faite avec des droits de lecture plus larges "
                             f"({', '.join(earlier.groups)}) : comparaison refusée.")
        matrix = self.builder.build(table, territories=territories, questions=questions, groups=groups, mode=chosen,
                                    user=user, progress=progress)
        if save:
            self.runs.save(matrix)
        if earlier is None and since is None and save:
            earlier = self.runs.previous(matrix)
        return matrix, diff(earlier, matrix) if earlier is not None else None
