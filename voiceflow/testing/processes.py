"""Real servers for tests and benchmarks: Debian's redis-server and nginx, and ``voiceflow serve``.

Each is started on a free port in a temporary directory and stopped (and reaped) on
exit, so nothing is left running. ``RedisServer`` can be killed and restarted on the
same port to test what a live call does while Redis is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "NginxServer",
    "RedisServer",
    "VoiceflowServer",
    "free_port",
    "local_nginx_config",
    "wait_for_port",
]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int,
    *,
    host: str = "127.0.0.1",
    timeout_s: float = 10.0,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s} s")


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)


class RedisServer:
    """``redis-server`` on a free port, no persistence unless asked (``with RedisServer() as r``)."""

    def __init__(self, *, port: int | None = None, args: tuple[str, ...] = ()) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = port or free_port()
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="vf-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        cmd = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            *self.args,
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, proc=self.proc)
        return self

    def kill(self) -> None:
        """Die at once (SIGKILL), as a crashed Redis would."""
        _stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        _stop(self.proc)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def local_nginx_config(shipped: str, listen: int, upstreams: list[int]) -> str:
    """The shipped nginx config aimed at local ports: its upstream's server line and listen port replaced."""
    servers = "".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;\n        " for p in upstreams)
    text, n = re.subn(r"server voice-agent:8000 [^;]*;\n\s*", servers, shipped)
    text, m = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen};", text)
    if (n, m) != (1, 1):
        raise ValueError("the config has no `server voice-agent:8000 ...;` upstream line or no `listen 80;`")
    return text


class NginxServer:
    """Debian's nginx in the foreground with a given config text, its paths inside a temporary prefix."""

    def __init__(self, config: str) -> None:
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.prefix = Path(tempfile.mkdtemp(prefix="vf-nginx-"))
        (self.prefix / "logs").mkdir()
        self.conf = self.prefix / "nginx.conf"
        self.conf.write_text(config)
        self.proc: subprocess.Popen[bytes] | None = None

    def test_config(self) -> subprocess.CompletedProcess[str]:
        """``nginx -t`` on the config (syntax and every directive's arguments)."""
        return subprocess.run(
            [self.binary, "-t", "-p", str(self.prefix), "-c", str(self.conf), "-g", "error_log stderr;"],
            capture_output=True,
            text=True,
            check=False,
        )

    def start(self, port: int, *, extra: str = "") -> NginxServer:
        """Run in the foreground until ``port`` answers; ``extra`` adds main-context directives."""
        directives = f"daemon off; error_log stderr; pid {self.prefix}/nginx.pid; {extra}"
        cmd = [self.binary, "-p", str(self.prefix), "-c", str(self.conf), "-g", directives]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_port(port, proc=self.proc)
        return self

    def stop(self) -> None:
        _stop(self.proc, signal.SIGQUIT)  # graceful: finish the open requests, then exit

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self) -> NginxServer:
        return self


class VoiceflowServer:
    """``voiceflow serve`` as a separate process (the way a deployment runs it)."""

    def __init__(
        self,
        *,
        pipeline: str = "echo",
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.port = port or free_port()
        self.env = dict(env or {})
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="vf-serve-", suffix=".log", delete=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> VoiceflowServer:
        env = {**os.environ, **self.env, "VOICEFLOW_PORT": str(self.port), "VOICEFLOW_HOST": "127.0.0.1"}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(self.cwd or Path.cwd()), env.get("PYTHONPATH")) if p
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voiceflow.cli",
                "serve",
                "--pipeline",
                self.pipeline,
                "--log-level",
                "info",
            ],
            env=env,
            cwd=self.cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"voiceflow serve exited with {self.proc.returncode}:\n{self.output()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            time.sleep(0.1)
        raise TimeoutError(f"voiceflow serve not healthy after {timeout_s} s:\n{self.output()}")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def kill(self) -> None:
        _stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGTERM, timeout_s=15)

    def __enter__(self) -> VoiceflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)
