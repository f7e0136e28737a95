"""Back up and restore the index (``autonomie snapshot``'s work; the command line only prints).

Server mode (``qdrant.url``): Qdrant's own collection snapshots, created on the server, downloaded to a
local folder (SHA-256 checked), restored by upload or by ``recover_snapshot`` from a URL. In a cluster a
collection snapshot only holds the shards of the node that made it: run it once per node (``--noeud``).

Embedded mode (``qdrant.path``): a ``.tar.gz`` of the store's folder (Qdrant Edge: the collection's
folder; qdrant-client's local mode: the whole index folder, every collection), taken while holding the
store's lock (so nothing writes during the copy; refused when another process has the index open), with
a small manifest. Restoring moves the current folder aside, never deletes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from assistant.components.vector_store.base import StoreError
from assistant.components.vector_store.factory import build_store
from assistant.settings import PROJECT_ROOT, QdrantSettings

MANIFEST = "autonomie-snapshot.json"
INDEX_DIR = "index"
FORMAT_VERSION = 1
DEFAULT_DIR = Path(".cache/snapshots")
TRANSFER_TIMEOUT_S = 3600.0


class SnapshotError(StoreError):
    """A French, user-facing error about a backup or a restore."""


# --- server mode ------------------------------------------------------------------------------------
@dataclass
class ServerSnapshots:
    """Snapshots of one collection on one Qdrant node: ``client`` is a QdrantClient, ``http`` an
    ``httpx.Client`` whose base URL is the same node (for the file transfers the client lacks)."""

    client: Any
    http: Any
    collection: str

    def create(self, dest_dir: Path, keep_on_server: bool = False) -> Path:
        description = self.client.create_snapshot(self.collection, wait=True)
        if description is None:
            raise SnapshotError("Le serveur Qdrant n'a pas renvoyé de description d'instantané.")
        dest_dir.mkdir(parents=True, exist_ok=True)
        target = dest_dir / description.name
        partial = target.with_name(target.name + ".partiel")
        digest = hashlib.sha256()
        try:
            with self.http.stream("GET", f"/collections/{self.collection}/snapshots/{description.name}") as response:
                _raise_for_status(response, "Téléchargement de l'instantané")
                with partial.open("wb") as out:
                    for block in response.iter_bytes():
                        digest.update(block)
                        out.write(block)
            if description.checksum and digest.hexdigest() != description.checksum:
                raise SnapshotError(
                    f"Somme de contrôle incorrecte pour {description.name} : le fichier téléchargé est corrompu."
                )
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        if not keep_on_server:
            self.client.delete_snapshot(self.collection, description.name, wait=True)
        return target

    def list(self) -> list[Any]:
        return list(self.client.list_snapshots(self.collection))

    def restore(self, source: str) -> int:
        """Restores from a local file (uploaded) or a URL the server can read (``http(s)://``, ``file://``);
        the snapshot's data replaces the collection's. Returns the number of points afterwards."""
        from qdrant_client import models

        if source.startswith(("http://", "https://", "file://")):
            self.client.recover_snapshot(
                self.collection, location=source, priority=models.SnapshotPriority.SNAPSHOT, wait=True
            )
        else:
            path = Path(source)
            if not path.is_file():
                raise SnapshotError(f"Fichier de sauvegarde introuvable : {path}")
            with path.open("rb") as fh:
                response = self.http.post(
                    f"/collections/{self.collection}/snapshots/upload",
                    params={"wait": "true", "priority": "snapshot", "checksum": _sha256(path)},
                    files={"snapshot": (path.name, fh, "application/octet-stream")},
                )
            _raise_for_status(response, "Envoi de l'instantané")
        return self.client.count(self.collection, exact=True).count


def _raise_for_status(response: Any, action: str) -> None:
    if response.status_code < 400:
        return
    try:
        response.read()
        detail = response.json().get("status", {}).get("error") or response.text
    except Exception:  # body not JSON, or unreadable stream
        detail = ""
    raise SnapshotError(f"{action} impossible (HTTP {response.status_code})" + (f" : {detail}" if detail else "."))


@contextmanager
def server_snapshots(settings: QdrantSettings, node: str | None = None) -> Iterator[tuple[ServerSnapshots, str]]:
    """The snapshots of ``settings.collection`` on ``node`` (default: ``qdrant.url``) and that node's URL;
    HTTP and connection failures inside the block become ``SnapshotError``s in French."""
    import httpx
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    url = (node or settings.url or "").rstrip("/")
    client, http = _qdrant_client(url, settings), _http_client(url, settings)
    try:
        yield ServerSnapshots(client, http, settings.collection), url
    except UnexpectedResponse as exc:
        detail = exc.content.decode("utf-8", errors="replace")[:300]
        raise SnapshotError(f"Le serveur Qdrant {url} a refusé la requête (HTTP {exc.status_code}) : {detail}") from exc
    except (ResponseHandlingException, httpx.TransportError) as exc:
        raise SnapshotError(
            f"Le serveur Qdrant {url} est injoignable ({type(exc).__name__}) : vérifiez l'URL et la clé API."
        ) from exc
    finally:
        http.close()
        client.close()


def _qdrant_client(url: str, settings: QdrantSettings) -> Any:
    from qdrant_client import QdrantClient

    return QdrantClient(url=url, api_key=settings.api_key, timeout=int(TRANSFER_TIMEOUT_S))


def _http_client(url: str, settings: QdrantSettings, transport: Any = None) -> Any:
    import httpx

    headers = {"api-key": settings.api_key} if settings.api_key else {}
    timeout = httpx.Timeout(TRANSFER_TIMEOUT_S, connect=settings.timeout_s)
    return httpx.Client(base_url=url, headers=headers, timeout=timeout, transport=transport)


# --- embedded mode ----------------------------------------------------------------------------------
def _open_store(settings: QdrantSettings):
    """The embedded store, which holds its lock while open (``StoreLockedError`` if someone else does)."""
    return build_store(settings, PROJECT_ROOT)


def create_embedded(settings: QdrantSettings, dest_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Archives the store's folder while holding its lock, so the copy is consistent."""
    store = _open_store(settings)
    try:
        if not store.exists():
            raise SnapshotError(f"La collection « {settings.collection} » n'existe pas : rien à sauvegarder.")
        source = Path(store.location)
        now = dt.datetime.now(dt.timezone.utc)
        manifest = {
            "format": FORMAT_VERSION,
            "engine": settings.embedded_engine,
            "collection": settings.collection,
            "points": store.count(),
            "created_at": now.isoformat(timespec="seconds"),
        }
        dest_dir.mkdir(parents=True, exist_ok=True)
        target = dest_dir / f"{settings.collection}-{manifest['engine']}-{now:%Y%m%dT%H%M%SZ}.tar.gz"
        partial = target.with_name(target.name + ".partiel")
        try:
            with tarfile.open(partial, "w:gz") as tar:
                data = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime = len(data), int(now.timestamp())
                tar.addfile(info, io.BytesIO(data))
                tar.add(source, arcname=INDEX_DIR, filter=_skip_lock_files)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    finally:
        store.close()
    return target, manifest


def _skip_lock_files(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if Path(info.name).name == ".lock" else info


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.next()
            if member is None or member.name != MANIFEST:
                raise SnapshotError(f"{archive} n'est pas une sauvegarde d'index embarqué (manifeste absent).")
            manifest = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
    except (tarfile.TarError, OSError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"Archive illisible : {archive} ({exc}).") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise SnapshotError(f"Format de sauvegarde non pris en charge : {manifest.get('format')!r}.")
    return manifest


def restore_embedded(settings: QdrantSettings, archive: Path) -> tuple[int, Path | None]:
    """Replaces the store's folder by the archive's; returns (points, where the old folder was moved)."""
    manifest = read_manifest(archive)
    engine = settings.embedded_engine
    if manifest["engine"] != engine:
        raise SnapshotError(
            f"Sauvegarde faite avec le moteur embarqué « {manifest['engine']} », réglages sur « {engine} » "
            "(qdrant.embedded_engine)."
        )
    if manifest["collection"] != settings.collection:
        raise SnapshotError(
            f"Cette sauvegarde est celle de la collection « {manifest['collection']} » : "
            f"relancez avec --collection {manifest['collection']}."
        )
    store = _open_store(settings)  # refuses while another process has the index open
    target = Path(store.location)
    store.close()

    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    staging = target.with_name(f".{target.name}.restauration-{stamp}")
    aside: Path | None = None
    placed = False
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(staging, filter="data")
        if not (staging / INDEX_DIR).is_dir():
            raise SnapshotError(f"Archive incomplète : dossier « {INDEX_DIR} » absent de {archive}.")
        if target.exists() and any(target.iterdir()):
            aside = target.with_name(f"{target.name}.avant-restauration-{stamp}")
            target.rename(aside)
        elif target.exists():
            target.rmdir()
        (staging / INDEX_DIR).rename(target)
        placed = True
        points = _count_points(settings)
        if points != manifest["points"]:
            raise SnapshotError(f"Restauration incohérente : {points} points relus, {manifest['points']} attendus.")
    except BaseException:
        if placed:
            shutil.rmtree(target, ignore_errors=True)
        if aside is not None:
            aside.rename(target)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return points, aside


def _count_points(settings: QdrantSettings) -> int:
    store = _open_store(settings)
    try:
        return store.count()
    finally:
        store.close()


def local_backups(folder: Path) -> list[tuple[Path, str]]:
    """The backups in ``folder`` (server snapshots and embedded archives), each with what it holds."""
    files = sorted([*folder.glob("*.snapshot"), *folder.glob("*.tar.gz")]) if folder.is_dir() else []
    described = []
    for path in files:
        content = "instantané Qdrant (serveur)"
        if path.name.endswith(".tar.gz"):
            try:
                manifest = read_manifest(path)
                content = f"index embarqué {manifest['engine']} « {manifest['collection']} », {manifest['points']} points"
            except SnapshotError:
                content = "archive non reconnue"
        described.append((path, content))
    return described


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
