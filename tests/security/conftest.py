"""Attack tests: real servers (``autonomie serve`` in a subprocess, or the app in-process on a real small
index), real parsers, real embedded Qdrant. Each test reproduces one probe of issue 14."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.ui.conftest import client, free_port, make_client, ui_index, upload_client, users_file  # noqa: F401  (fixtures)

SERVE = [sys.executable, "-m", "assistant.cli", "serve"]

# The personal data the attack tests type in: none of it may be found in any store afterwards.
NIR = "1 85 05 78 006 084 36"
EMAIL = "jeanne.martin@exemple-perso.fr"
PHONE = "06 12 34 56 78"
PII_VALUES = (NIR, EMAIL, PHONE, NIR.replace(" ", ""), "0612345678")
PII_RE = re.compile(rb"(?<![\d.])(?:[12] ?\d{2} ?\d{2} ?\d{2} ?\d{3} ?\d{3} ?\d{2}|0\d(?:[ .]?\d{2}){4})(?![\d.])"
                    rb"|[\w.+-]+@exemple-perso\.fr")


def pii_found(*paths: Path) -> list[str]:
    """Where (file: value) the test's personal data appears in the bytes of ``paths`` (folders walked)."""
    found = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
        for path in files:
            data = path.read_bytes()
            found += [f"{path.name}: {m.group(0)!r}" for m in PII_RE.finditer(data)]
            found += [f"{path.name}: {v}" for v in PII_VALUES if v.encode() in data]
    return found


@dataclass
class Served:
    """A real ``autonomie serve`` process: its base URL, the process, its folder."""

    url: str
    process: subprocess.Popen
    folder: Path

    def stop(self, timeout: float = 120) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return (self.folder / "serve.log").read_text(encoding="utf-8", errors="replace")


@contextmanager
def serve(folder: Path, project_root: Path, **env: str) -> Iterator[Served]:
    """``python -m assistant.cli serve`` on a free loopback port, an empty index of its own, ``env`` added
    (``AUTONOMIE_UI__AUTH=header``…); waits until /health answers (a loaded 2-core machine needs minutes)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUTONOMIE_QDRANT__PATH": str(folder / "qdrant"),
                "AUTONOMIE_QDRANT__COLLECTION": "securite", "AUTONOMIE_UI__FEEDBACK_DB": str(folder / "avis.sqlite3"),
                "AUTONOMIE_UI__UPLOAD_DIR": str(folder / "televersements"),
                "AUTONOMIE_LLM__BASE_URL": f"http://127.0.0.1:{free_port()}/v1", **env}
    log = (folder / "serve.log").open("w", encoding="utf-8")
    process = subprocess.Popen([*SERVE, "--port", str(port)], cwd=project_root, env=full_env, stdout=log,
                               stderr=subprocess.STDOUT, text=True)
    served = Served(f"http://127.0.0.1:{port}", process, folder)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert process.poll() is None, served.output()
            try:
                if httpx.get(f"{served.url}/health", timeout=5).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "le serveur n'a pas démarré :\n" + served.output()
            time.sleep(0.5)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
        log.close()
