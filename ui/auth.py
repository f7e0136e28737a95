"""Who is calling, and which groups they belong to.

Three modes (``ui.auth``):

- ``none``: no login; one local user with ``access.default_groups`` (the server then listens on the
  loopback address only, unless ``autonomie serve --ouvert``);
- ``gradio``: a users file (YAML) checked by the Gradio login page, and by HTTP Basic or a Bearer API
  key on the API;
- ``header``: an authenticating reverse proxy sets ``X-Remote-User`` / ``X-Remote-Groups``; they are
  trusted only from ``ui.trusted_proxies`` (addresses or CIDR networks), checked against the TCP peer that
  sent the request (:func:`peer_of`), never against an address taken from ``X-Forwarded-For``.

Users file::

    users:
      alice:
        password_hash: pbkdf2_sha256$600000$...   # autonomie mot-de-passe
        groups: [dep-59, televersement]
        api_key_hash: sha256$...                  # optional, for /v1 and /api clients
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from assistant.settings import Settings

PBKDF2_ITERATIONS = 600_000
PEER_KEY = "autonomie.peer"  # ASGI scope key: the TCP peer's address, recorded before any proxy header is read
REALM = 'Basic realm="Assistant Autonomie", charset="UTF-8"'


class AccessError(Exception):
    """Refused request: ``status`` 401 (who are you?) or 403 (not allowed); French message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


_DEP_RE = re.compile(r"^dep-(\w{1,3})$", re.IGNORECASE)


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    can_upload: bool
    can_see_usage: bool = False  # member of ui.usage_groups: the « Usage » tab

    @property
    def departements(self) -> list[str]:
        return departements(self.groups)


def departements(groups: tuple[str, ...] | list[str]) -> list[str]:
    """The département codes the groups name (``dep-59`` → « 59 », ``dep-2a`` → « 2A »), sorted."""
    from assistant.answering.territories import normalise_code

    return sorted({code for g in groups if (m := _DEP_RE.match(g)) and (code := normalise_code(m.group(1)))})


def hash_password(password: str, iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt, expected = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), _unb64(salt), int(iterations))
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(digest, _unb64(expected))


def new_api_key() -> tuple[str, str]:
    """(key to give the client, hash to store in the users file)."""
    key = "aa-" + secrets.token_urlsafe(32)
    return key, hash_api_key(key)


def hash_api_key(key: str) -> str:
    # API keys are long random strings: a plain SHA-256 is enough (no dictionary to protect against).
    return "sha256$" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def peer_of(request: object) -> str | None:
    """The address of the TCP peer that sent ``request`` (a Starlette or a Gradio request).

    ``ClientAddressMiddleware`` (ui/server.py) records it before X-Forwarded-For may replace the
    client address; ``None`` when unknown (e.g. an outer proxy-headers middleware already rewrote it)."""
    inner = getattr(request, "request", None) or request  # gr.Request wraps the Starlette request
    scope = getattr(inner, "scope", None) or {}
    if PEER_KEY in scope:
        return scope[PEER_KEY]
    client = scope.get("client")
    return client[0] if client else None


class TrustedProxies:
    """``ui.trusted_proxies``: addresses and networks, compared as IP addresses (``::ffff:127.0.0.1`` included)."""

    def __init__(self, entries: list[str]):
        self.networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]

    def __contains__(self, host: str | None) -> bool:
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address.version == net.version and address in net for net in self.networks)


class UserEntry(BaseModel):
    password_hash: str
    groups: list[str] = Field(default_factory=list)
    api_key_hash: str | None = None


class UserDirectory:
    def __init__(self, users: dict[str, UserEntry]):
        self.users = users
        self._by_key = {entry.api_key_hash: name for name, entry in users.items() if entry.api_key_hash}

    @classmethod
    def load(cls, path: Path) -> "UserDirectory":
        if not path.exists():
            raise ValueError(f"Fichier des utilisateurs introuvable : {path} (réglage ui.users_file).")
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        users = raw.get("users") if isinstance(raw, dict) else None
        if not isinstance(users, dict) or not users:
            raise ValueError(f"{path} : dictionnaire « users » attendu (utilisateur → password_hash, groups).")
        try:
            return cls({str(name): UserEntry.model_validate(entry) for name, entry in users.items()})
        except ValidationError as exc:
            raise ValueError(f"{path} : utilisateur invalide : {exc}") from exc

    def check_password(self, name: str, password: str) -> bool:
        entry = self.users.get(name)
        return entry is not None and verify_password(password, entry.password_hash)

    def name_for_api_key(self, key: str) -> str | None:
        return self._by_key.get(hash_api_key(key))

    def groups(self, name: str) -> tuple[str, ...]:
        entry = self.users.get(name)
        return tuple(entry.groups) if entry else ()


class Authenticator:
    """Turns a request's headers (and client address) into a ``User``, or raises ``AccessError``."""

    def __init__(self, settings: Settings, directory: UserDirectory | None = None):
        self.ui = settings.ui
        self.default_groups = tuple(settings.access.default_groups)
        self.mode = settings.ui.auth
        if self.mode == "gradio" and directory is None:
            if settings.ui.users_file is None:
                raise ValueError("ui.auth = gradio : indiquez le fichier des utilisateurs (ui.users_file).")
            directory = UserDirectory.load(settings.resolve(settings.ui.users_file))
        self.directory = directory
        self.trusted = TrustedProxies(settings.ui.trusted_proxies)

    def user(self, name: str, groups: tuple[str, ...]) -> User:
        return User(name=name, groups=groups, can_upload=any(g in self.ui.upload_groups for g in groups),
                    can_see_usage=any(g in self.ui.usage_groups for g in groups))

    def anonymous(self) -> User:
        return User(name="local", groups=self.default_groups, can_upload=self.ui.anonymous_upload,
                    can_see_usage=any(g in self.ui.usage_groups for g in self.default_groups))

    def check_login(self, name: str, password: str) -> bool:
        """Gradio's login form."""
        return self.directory is not None and self.directory.check_password(name, password)

    def from_request(self, headers: Mapping[str, str], client_host: str | None) -> User:
        if self.mode == "none":
            return self.anonymous()
        if self.mode == "header":
            return self._from_proxy(headers, client_host)
        return self._from_credentials(headers.get("authorization", ""))

    def from_session(self, username: str | None, headers: Mapping[str, str], client_host: str | None) -> User:
        """A Gradio event: ``username`` is set by Gradio's login (mode gradio) or auth dependency (header)."""
        if self.mode == "none":
            return self.anonymous()
        if self.mode == "header":
            return self._from_proxy(headers, client_host)
        if not username or self.directory is None or username not in self.directory.users:
            raise AccessError(401, "Session expirée : reconnectez-vous.")
        return self.user(username, self.directory.groups(username))

    def proxy_username(self, headers: Mapping[str, str], client_host: str | None) -> str | None:
        """Gradio's ``auth_dependency`` in header mode (None = not authenticated)."""
        try:
            return self._from_proxy(headers, client_host).name
        except AccessError:
            return None

    def _from_proxy(self, headers: Mapping[str, str], client_host: str | None) -> User:
        if client_host not in self.trusted:
            raise AccessError(403, "Accès refusé : cette adresse n'est pas un mandataire d'authentification de confiance.")
        name = (headers.get(self.ui.user_header.lower()) or "").strip()
        if not name:
            raise AccessError(401, f"Authentification requise (en-tête {self.ui.user_header} absent).")
        raw_groups = headers.get(self.ui.groups_header.lower()) or ""
        groups = tuple(g for g in raw_groups.replace(";", ",").replace(" ", ",").split(",") if g)
        return self.user(name, groups)

    def _from_credentials(self, authorization: str) -> User:
        assert self.directory is not None
        scheme, _, value = authorization.partition(" ")
        scheme = scheme.lower()
        name: str | None = None
        if scheme == "basic":
            try:
                login, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                login, password = "", ""
            if self.directory.check_password(login, password):
                name = login
        elif scheme == "bearer":
            name = self.directory.name_for_api_key(value.strip())
        elif not authorization:
            raise AccessError(401, "Authentification requise : identifiant et mot de passe (Basic) ou clé d'API (Bearer).")
        if name is None:
            raise AccessError(401, "Identifiants ou clé d'API invalides.")
        return self.user(name, self.directory.groups(name))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
