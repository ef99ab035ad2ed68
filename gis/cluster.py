"""The private PostgreSQL cluster that Wangge runs when no DATABASE_URL is set.

It lives under the project folder (``.wangge/pg``), belongs to the ``postgres`` system user when we are root
(PostgreSQL refuses to run as root), listens on 127.0.0.1 at a non-standard port with a generated password,
and is started on demand and reused by later runs. The port is given on every start (not written once at
creation), so a changed ``WANGGE_PG_PORT`` takes effect at the next start, and a cluster found running on
another port is restarted on the asked one.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from gis.db import normalise_url
from gis.errors import SetupError

INSTALL_HINT = "run `scripts/ensure-system.sh postgis` (or: apt-get install postgresql postgresql-15-postgis-3)"


def find_pg_bindir() -> Path:
    """The bin folder of the newest installed PostgreSQL server, or a SetupError naming the install."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if candidates:
        return candidates[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise SetupError(f"PostgreSQL server binaries (initdb, pg_ctl) are not installed; {INSTALL_HINT}")


def _postgis_installed(bindir: Path) -> bool:
    sharedir = subprocess.run(
        [str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=False
    ).stdout.strip() if (bindir / "pg_config").exists() else f"/usr/share/postgresql/{bindir.parts[-2]}"
    return (Path(sharedir) / "extension" / "postgis.control").exists()


@dataclass(frozen=True)
class LocalCluster:
    """A private PostgreSQL cluster in ``root`` (data, socket, log and password side by side)."""

    root: Path
    port: int
    database: str = "wangge"
    user: str = "wangge"
    durable: bool = True  # test clusters trade crash safety for speed

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socketdir(self) -> Path:
        return self.root / "run"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    @property
    def passwordfile(self) -> Path:
        return self.root / "password"

    def url(self, database: str | None = None) -> str:
        password = self.passwordfile.read_text().strip()
        return f"postgresql+psycopg://{self.user}:{password}@127.0.0.1:{self.port}/{database or self.database}"

    # -- running commands as the cluster's owner -------------------------------------------------
    def _as_owner(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return args

    def _run(self, args: list[str], what: str) -> str:
        proc = subprocess.run(self._as_owner(args), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            log = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
            raise SetupError(f"{what} failed: {proc.stderr.strip() or proc.stdout.strip()}\n{log}".strip())
        return proc.stdout

    def _give_to_owner(self, path: Path) -> None:
        if os.geteuid() != 0:
            return
        shutil.chown(path, "postgres", "postgres")
        # The owner must be able to walk down to its folder: grant search (not read) on ancestors.
        for parent in [*reversed(path.parents)]:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)

    # -- life cycle ------------------------------------------------------------------------------
    def is_running(self) -> bool:
        if not (self.datadir / "PG_VERSION").exists():
            return False
        bindir = find_pg_bindir()
        proc = subprocess.run(
            self._as_owner([str(bindir / "pg_ctl"), "-D", str(self.datadir), "status"]),
            capture_output=True, check=False,
        )
        return proc.returncode == 0

    def running_port(self) -> int | None:
        """The port the running server listens on (line 4 of ``postmaster.pid``), or None when stopped."""
        try:
            lines = (self.datadir / "postmaster.pid").read_text().splitlines()
            return int(lines[3])
        except (OSError, IndexError, ValueError):
            return None

    def ensure(self) -> str:
        """Create (first time), start (if stopped) and prepare the cluster; return its URL."""
        bindir = find_pg_bindir()
        if not _postgis_installed(bindir):
            raise SetupError(f"PostGIS is not installed for PostgreSQL {bindir.parts[-2]}; {INSTALL_HINT}")
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if not (self.datadir / "PG_VERSION").exists():
                self._initdb(bindir)
            if self.is_running() and self.running_port() != self.port:
                self.stop()  # WANGGE_PG_PORT changed since it was started: serve on the port asked for
            if not self.is_running():
                self._start(bindir)
            self._create_database()
        return self.url()

    def stop(self) -> None:
        if self.is_running():
            self._run([str(find_pg_bindir() / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"],
                      "pg_ctl stop")

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _initdb(self, bindir: Path) -> None:
        if self.datadir.exists():
            shutil.rmtree(self.datadir)  # a half-made data folder from an interrupted initdb
        self.datadir.mkdir(mode=0o700)
        self.socketdir.mkdir(exist_ok=True)
        if not self.passwordfile.exists():
            self.passwordfile.write_text(secrets.token_urlsafe(18) + "\n")
            self.passwordfile.chmod(0o600)
        pwfile = self.root / ".initdb-pw"
        pwfile.write_text(self.passwordfile.read_text())
        for path in (self.datadir, self.socketdir, pwfile):
            self._give_to_owner(path)
        try:
            self._run(
                [str(bindir / "initdb"), "-D", str(self.datadir), "-U", self.user, f"--pwfile={pwfile}",
                 "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8",
                 "--locale=C.UTF-8", "--no-instructions"],
                "initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.socketdir}'",
            "max_connections = 100",
            "shared_buffers = 256MB",
            "work_mem = 32MB",
            "maintenance_work_mem = 256MB",
        ]
        if not self.durable:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write("\n# Wangge private cluster\n" + "\n".join(settings) + "\n")

    def _start(self, bindir: Path) -> None:
        self.logfile.touch(exist_ok=True)
        self._give_to_owner(self.logfile)
        self._give_to_owner(self.socketdir)
        try:
            # The port is given on every start, not written once at creation: a changed WANGGE_PG_PORT works.
            self._run([str(bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
                       "-o", f"-p {self.port}", "-w", "-t", "60", "start"], "pg_ctl start")
        except SetupError as exc:
            raise SetupError(f"{exc}\nIf port {self.port} is taken, set WANGGE_PG_PORT to a free one.") from exc

    def _create_database(self) -> None:
        admin = self.url("postgres").replace("postgresql+psycopg", "postgresql")
        for attempt in range(30):
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                          (self.database,)).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{self.database}"')  # name is ours, not user input
                break
            except psycopg.OperationalError:
                if attempt == 29:
                    raise
                time.sleep(0.5)
        with psycopg.connect(self.url().replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def local_cluster(state_dir: Path, port: int) -> LocalCluster:
    return LocalCluster(root=state_dir / "pg", port=port)


def resolve_database_url(database_url: str | None, state_dir: Path, port: int) -> str:
    """The URL in use: DATABASE_URL when set, else the private cluster (started if need be)."""
    if database_url:
        return normalise_url(database_url)
    return local_cluster(state_dir, port).ensure()
