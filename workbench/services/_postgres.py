"""PostgreSQL: the shared checkpointer and effect journal when workers run on several machines."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, ClassVar

from workbench.errors import ServiceError
from workbench.services._definition import ServiceDefinition, ServiceInfo
from workbench.services._registry import register_service

__all__ = ["PostgresService", "find_postgres_bin"]

_USER = "postgres"


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``postgres`` and ``initdb``."""
    found = [
        Path(p).parent
        for p in glob.glob("/usr/lib/postgresql/*/bin/postgres")
        if (Path(p).parent / "initdb").exists()
    ]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None


def _as_user(argv: list[str]) -> list[str]:
    # setpriv execs in place (no extra parent process), so signals reach the server.
    return ["setpriv", f"--reuid={_USER}", f"--regid={_USER}", "--init-groups", "--", *argv]


@register_service
class PostgresService(ServiceDefinition):
    """A private PostgreSQL cluster on ``127.0.0.1:PORT``, run as the ``postgres`` user.

    The first start runs ``initdb`` into ``<home>/services/postgres/data`` (a superuser
    ``postgres`` with a random password kept in ``<home>/services/postgres/password``,
    SCRAM authentication on TCP); later starts reuse the cluster. The server listens on
    loopback only, its unix socket in the same directory. Debian's ``postgresql`` is
    installed with apt-get when missing (root only; also done by
    ``scripts/install-system-deps.sh``). Since we run as root and PostgreSQL refuses
    to, the server runs as ``postgres``: every directory above the workbench home must
    be searchable by that user (``/tmp/...`` and a home under ``/work`` are; a ``0700``
    directory is not).

    State-file key: ``database_url``
    (``postgresql://postgres:<password>@127.0.0.1:PORT/postgres``), what
    ``WORKBENCH_DATABASE_URL`` takes.
    """

    name: ClassVar[str] = "postgres"
    startup_timeout_s: ClassVar[float] = 60.0
    stop_grace_s: ClassVar[float] = 15.0

    def __init__(self) -> None:
        """Create the definition (it remembers each start's working directory by port)."""
        self._workdirs: dict[int, Path] = {}
        self._lock = threading.Lock()

    def check_installed(self) -> None:
        """Install Debian's ``postgresql`` when missing (root only).

        Raises:
            ServiceError: Not root, no ``postgres`` user, or apt-get failed.
        """
        if os.geteuid() != 0:
            raise ServiceError(
                "the postgres service initialises and runs a cluster as the postgres user,"
                " which needs root; point WORKBENCH_DATABASE_URL at a server you run instead"
            )
        if find_postgres_bin() is None:
            from workbench.sandbox._docker_image import apt_install

            apt_install(["postgresql"], error=ServiceError)
        if find_postgres_bin() is None:
            raise ServiceError("postgresql installed but no /usr/lib/postgresql/*/bin/postgres")
        try:
            pwd.getpwnam(_USER)
        except KeyError:
            raise ServiceError("no `postgres` user: reinstall Debian's postgresql") from None
        if shutil.which("setpriv") is None:
            raise ServiceError("setpriv (util-linux) is missing: `apt-get install util-linux`")

    def command(self, *, port: int, workdir: Path) -> list[str]:
        """``postgres`` as the postgres user on loopback; ``initdb`` first if needed.

        Raises:
            ServiceError: ``initdb`` failed, or the postgres user cannot reach ``workdir``.
        """
        bindir = find_postgres_bin()
        assert bindir is not None  # check_installed ran
        with self._lock:
            self._workdirs[port] = workdir
        user = pwd.getpwnam(_USER)
        os.chown(workdir, user.pw_uid, user.pw_gid)
        os.chmod(workdir, 0o700)
        reach = subprocess.run(_as_user(["test", "-x", str(workdir)]), check=False)
        if reach.returncode != 0:
            raise ServiceError(
                f"the postgres user cannot reach {workdir}: make every directory above it"
                " searchable (chmod o+x) or use a WORKBENCH_HOME outside a private directory"
            )
        data = workdir / "data"
        if not (data / "PG_VERSION").exists():
            self._initdb(bindir, workdir, data, user)
        return _as_user(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={workdir}",
            ]
        )

    def _initdb(self, bindir: Path, workdir: Path, data: Path, user: pwd.struct_passwd) -> None:
        password = secrets.token_urlsafe(24)
        secret = workdir / "password"
        secret.write_text(password)
        os.chown(secret, user.pw_uid, user.pw_gid)
        os.chmod(secret, 0o600)
        if data.exists():
            shutil.rmtree(data)  # a half-made cluster from an interrupted first start
        done = subprocess.run(
            _as_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    _USER,
                    "--pwfile",
                    str(secret),
                    "--auth-host=scram-sha-256",
                    "--auth-local=peer",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-instructions",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
            cwd=workdir,
        )
        if done.returncode != 0:
            raise ServiceError(f"initdb failed: {(done.stdout + done.stderr).strip()[-1500:]}")

    def url(self, *, port: int) -> str:
        """``postgresql://127.0.0.1:PORT/postgres`` (the password is in ``database_url``)."""
        return f"postgresql://127.0.0.1:{port}/postgres"

    def _database_url(self, port: int) -> str | None:
        with self._lock:
            workdir = self._workdirs.get(port)
        if workdir is None or not (workdir / "password").exists():
            return None
        password = (workdir / "password").read_text().strip()
        return f"postgresql://{_USER}:{password}@127.0.0.1:{port}/postgres"

    async def ready(self, info: ServiceInfo) -> bool:
        """True once the server accepts a login and answers ``SELECT 1``."""
        import psycopg

        url = self._database_url(info.port) or self._url_from_state(info)
        if url is None:
            return False
        try:
            conn = await psycopg.AsyncConnection.connect(url, connect_timeout=2)
        except psycopg.OperationalError:
            return False
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT 1")
                return (await cur.fetchone()) == (1,)
        except psycopg.Error:
            return False
        finally:
            await conn.close()

    def _url_from_state(self, info: ServiceInfo) -> str | None:
        value = info.extra.get("database_url")
        return value if isinstance(value, str) else None

    def describe(self, info: ServiceInfo) -> dict[str, Any]:
        """``database_url``, what ``WORKBENCH_DATABASE_URL`` takes."""
        return {"database_url": self._database_url(info.port) or self._url_from_state(info)}
