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


def main(
    report: Optional[Path] = typer.Option(None, help="Dossier du rapport à contrôler ; défaut : le plus récent."),
    baseline: Optional[Path] = typer.Option(None, help="Rapport de référence ; défaut : le run précédent comparable."),
    thresholds: Path = typer.Option(DEFAULT_THRESHOLDS, help="Fichier des seuils (YAML versionné)."),
    mode: str = typer.Option("extractif", help="Sans --report : contrôler le run le plus récent de ce mode "
                             "(les seuils visent le mode extractif, celui de tout site sans GPU)."),
) -> None:
    """Contrôle une évaluation : seuils minimaux et régression par rapport à la référence."""
    settings = get_settings()
    reports_root = settings.resolve(settings.eval.reports_dir)
    report = report or _latest(reports_root, mode)
    if report is None or not (report / "results.json").exists():
        typer.echo(f"Aucun rapport d'évaluation trouvé ({report or reports_root}) : lancez d'abord « make eval ».", err=True)
        raise typer.Exit(2)
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    meta = results["meta"]
    baseline = baseline or find_previous(meta, report, report.parent)
    base = json.loads((baseline / "results.json").read_text(encoding="utf-8"))["summary"] if baseline else None
    try:
        rules = load_thresholds(thresholds, meta["dataset_name"])
    except (ThresholdError, yaml.YAMLError, OSError) as exc:
        typer.echo(f"Seuils illisibles : {exc}", err=True)
        raise typer.Exit(2)
    verdicts = evaluate_gate(results["summary"], base, rules)
    typer.echo(f"Contrôle de l'évaluation {report} (jeu « {meta['dataset_name']} », mode « {meta['mode']} »)")
    typer.echo(f"Référence : {baseline if baseline else 'aucune (pas de run précédent comparable)'}")
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
                   "voulue, ajustez eval/thresholds.yaml dans la même modification.")
        raise typer.Exit(1)
    typer.echo(f"Résultat : RÉUSSI — {len(verdicts) - len(skipped)} métrique(s) dans les seuils.")


def _latest(root: Path, mode: str) -> Path | None:
    reports = sorted(p.parent for p in root.glob("*/results.json")
                     if json.loads(p.read_text(encoding="utf-8"))["meta"].get("mode") == mode)
    return reports[-1] if reports else None


if __name__ == "__main__":
    typer.run(main)
