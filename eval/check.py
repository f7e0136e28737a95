"""``python -m eval.check``: the quality gate. Exit 1, with a French explanation, when a metric is below
its threshold or dropped more than allowed since the baseline; "non mesuré" metrics are listed as
skipped, never counted as passed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import typer
import yaml

from assistant.settings import PROJECT_ROOT, get_settings
from eval.judge import MEASURED
from eval.report import fmt
from eval.summary import METRIC_INFO, find_previous

DEFAULT_THRESHOLDS = PROJECT_ROOT / "eval" / "thresholds.yaml"
RULE_KEYS = {"min", "max", "max_drop", "max_rise"}


class ThresholdError(ValueError):
    pass


@dataclass
class Verdict:
    metric: str
    ok: bool | None  # None: skipped (not measured or absent)
    message: str


def load_thresholds(path: Path, dataset_name: str) -> dict[str, dict[str, float]]:
    """``metrics`` of the file, overridden by ``datasets.<nom du jeu>.metrics`` when present."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rules = dict(data.get("metrics") or {})
    rules.update((data.get("datasets") or {}).get(dataset_name, {}).get("metrics") or {})
    for name, rule in rules.items():
        if name not in METRIC_INFO:
            raise ThresholdError(f"{path} : métrique inconnue « {name} ».")
        if not isinstance(rule, dict) or not rule or set(rule) - RULE_KEYS:
            raise ThresholdError(f"{path} : règle invalide pour « {name} » (clés permises : {', '.join(sorted(RULE_KEYS))}).")
    return rules


def evaluate_gate(summary: dict[str, Any], baseline: dict[str, Any] | None,
                  rules: dict[str, dict[str, float]]) -> list[Verdict]:
    verdicts = []
    for name, rule in rules.items():
        entry = summary["metrics"].get(name)
        if entry is None:
            verdicts.append(Verdict(name, None, "absente du rapport : ignorée"))
            continue
        if entry["status"] != MEASURED:
            verdicts.append(Verdict(name, None, f"non mesurée ({entry['reason']}) : ignorée, ni réussie ni échouée"))
            continue
        value, problems, notes = entry["value"], [], []
        if "min" in rule:
            (problems if value < rule["min"] else notes).append(
                f"{'<' if value < rule['min'] else '≥'} seuil minimal {fmt(rule['min'])}")
        if "max" in rule:
            (problems if value > rule["max"] else notes).append(
                f"{'>' if value > rule['max'] else '≤'} seuil maximal {fmt(rule['max'])}")
        before = (baseline or {}).get("metrics", {}).get(name)
        if before and before.get("status") == MEASURED:
            delta = value - before["value"]
            if "max_drop" in rule:
                text = f"référence {fmt(before['value'])}, écart {fmt(delta)} (baisse permise {fmt(rule['max_drop'])})"
                (problems if -delta > rule["max_drop"] + 1e-12 else notes).append(text)
            if "max_rise" in rule:
                text = f"référence {fmt(before['value'])}, écart {fmt(delta)} (hausse permise {fmt(rule['max_rise'])})"
                (problems if delta > rule["max_rise"] + 1e-12 else notes).append(text)
        elif {"max_drop", "max_rise"} & set(rule):
            notes.append("pas de valeur de référence : régression non contrôlée")
        verdicts.append(Verdict(name, not problems, f"= {fmt(value)} ; " + " ; ".join(problems or notes)))
    return verdicts


def threshold_key(meta: dict[str, Any]) -> str:
    """The ``datasets`` entry of thresholds.yaml for a run: its dataset, plus ``/sans-source`` for the
    variant asked without its gold documents, ``/hors-domaine`` for questions asked of a corpus off their domain."""
    suffix = {"sans_source": "/sans-source", "hors_domaine": "/hors-domaine"}.get(meta.get("variant", ""), "")
    return meta["dataset_name"] + suffix


def main(
    report: Optional[Path] = typer.Option(None, help="Dossier du rapport à contrôler ; défaut : le dernier run de chaque "
                                          "jeu (démonstration, service-public, CASF, et leurs variantes sans source)."),
    baseline: Optional[Path] = typer.Option(None, help="Rapport de référence ; défaut : le run précédent comparable."),
    thresholds: Path = typer.Option(DEFAULT_THRESHOLDS, help="Fichier des seuils (YAML versionné)."),
    mode: str = typer.Option("extractif", help="Sans --report : contrôler les runs les plus récents de ce mode "
                             "(les seuils visent le mode extractif, celui de tout site sans GPU)."),
) -> None:
    """Contrôle une évaluation : seuils minimaux et régression par rapport à la référence."""
    settings = get_settings()
    reports_root = settings.resolve(settings.eval.reports_dir)
    reports = [report] if report else _latest_per_set(reports_root, mode)
    if not reports or not all((r / "results.json").exists() for r in reports):
        typer.echo(f"Aucun rapport d'évaluation trouvé ({report or reports_root}) : lancez d'abord « make eval ».", err=True)
        raise typer.Exit(2)
    outcomes = [_check(r, baseline, thresholds) for r in reports]
    if len(reports) > 1:
        typer.echo(f"Bilan : {sum(outcomes)}/{len(outcomes)} évaluation(s) dans les seuils.")
    if not all(outcomes):
        raise typer.Exit(1)


def _check(report: Path, baseline: Path | None, thresholds: Path) -> bool:
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    meta = results["meta"]
    baseline = baseline or find_previous(meta, report, report.parent)
    base = json.loads((baseline / "results.json").read_text(encoding="utf-8"))["summary"] if baseline else None
    try:
        rules = load_thresholds(thresholds, threshold_key(meta))
    except (ThresholdError, yaml.YAMLError, OSError) as exc:
        typer.echo(f"Seuils illisibles : {exc}", err=True)
        raise typer.Exit(2)
    verdicts = evaluate_gate(results["summary"], base, rules)
    typer.echo(f"Contrôle de l'évaluation {report.name} (jeu « {threshold_key(meta)} », mode « {meta['mode']} »)")
    typer.echo(f"Référence : {baseline.name if baseline else 'aucune (pas de run précédent comparable)'}")
    marks = {True: "OK   ", False: "ÉCHEC", None: "—    "}
    for v in verdicts:
        typer.echo(f"  {marks[v.ok]} {v.metric} {v.message}")
    failed = [v for v in verdicts if v.ok is False]
    skipped = [v for v in verdicts if v.ok is None]
    if summary_errors := results["summary"].get("errors"):
        failed.append(Verdict("erreurs", False, ""))
        typer.echo(f"  ÉCHEC {len(summary_errors)} question(s) en erreur : {', '.join(summary_errors[:10])}")
    if skipped:
        typer.echo(f"{len(skipped)} métrique(s) non contrôlée(s) (non mesurées ou absentes) : "
                   "elles ne comptent pas comme réussies.")
    if failed:
        typer.echo(f"Résultat : ÉCHEC — {len(failed)} contrôle(s) en défaut. Corrigez la régression ou, si elle est "
                   "voulue, ajustez eval/thresholds.yaml dans la même modification.\n")
        return False
    typer.echo(f"Résultat : RÉUSSI — {len(verdicts) - len(skipped)} métrique(s) dans les seuils.\n")
    return True


def _latest_per_set(root: Path, mode: str) -> list[Path]:
    """The latest report of each (dataset, corpus, variant) run in ``mode``."""
    latest: dict[tuple[str, str, str], tuple[str, Path]] = {}
    for path in root.glob("*/results.json"):
        meta = json.loads(path.read_text(encoding="utf-8"))["meta"]
        if meta.get("mode") != mode:
            continue
        key = (meta["dataset_name"], meta.get("corpus_name", ""), meta.get("variant", "tel_quel"))
        if key not in latest or latest[key][0] < meta.get("created", ""):
            latest[key] = (meta.get("created", ""), path.parent)
    return [path for _, path in sorted(latest.values())]


if __name__ == "__main__":
    typer.run(main)
