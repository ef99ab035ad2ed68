import os
from pathlib import Path

import psycopg
import pytest

from gis import cluster
from gis.cluster import LocalCluster, resolve_database_url
from gis.db import normalise_url
from gis.errors import SetupError


def test_urls_from_psql_and_qgis_use_psycopg3() -> None:
    assert normalise_url("postgresql://u:p@h:5/d") == "postgresql+psycopg://u:p@h:5/d"
    assert normalise_url("postgres://u@h/d").startswith("postgresql+psycopg://")
    assert normalise_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"


def test_a_set_database_url_is_used_as_is_and_no_cluster_is_started(tmp_path: Path) -> None:
    url = resolve_database_url("postgresql://someone:pw@db.example:6543/city", tmp_path, 54399)
    assert url == "postgresql+psycopg://someone:pw@db.example:6543/city"
    assert not (tmp_path / "pg").exists()


def test_missing_postgresql_binaries_name_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster.Path, "glob", lambda self, pattern: iter(()))
    monkeypatch.setattr(cluster.shutil, "which", lambda name: None)
    with pytest.raises(SetupError, match="apt-get install postgresql"):
        cluster.find_pg_bindir()


def test_missing_postgis_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cluster, "_postgis_installed", lambda bindir: False)
    with pytest.raises(SetupError, match="postgis"):
        LocalCluster(root=tmp_path / "pg", port=54398).ensure()
    assert not (tmp_path / "pg" / "data").exists()


@pytest.mark.slow
def test_private_cluster_is_created_started_reused_and_stopped(tmp_path: Path) -> None:
    # Under /tmp like a fresh clone would be; the postgres user must be able to reach it.
    root = tmp_path / "project" / ".wangge" / "pg"
    cluster = LocalCluster(root=root, port=int(os.environ.get("WANGGE_TEST_SPARE_PORT", "54397")),
                           durable=False)
    try:
        url = cluster.ensure()
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3")
            # Password auth over TCP: the generated password is required.
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url.replace("+psycopg", "").replace(cluster.passwordfile.read_text().strip(), "wrong"))
        assert cluster.ensure() == url  # reused, not re-created
        assert (root / "password").stat().st_mode & 0o077 == 0
    finally:
        cluster.stop()
    assert not cluster.is_running()


@pytest.mark.slow
def test_a_changed_port_is_honoured_at_the_next_start(tmp_path: Path) -> None:
    root = tmp_path / "project" / ".wangge" / "pg"
    first = int(os.environ.get("WANGGE_TEST_SPARE_PORT", "54397"))
    before = LocalCluster(root=root, port=first, durable=False)
    after = LocalCluster(root=root, port=first + 1, durable=False)
    try:
        before.ensure()
        assert before.running_port() == first
        url = after.ensure()  # running on the old port: restarted on the new one
        assert after.running_port() == first + 1
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            assert conn.execute("SHOW port").fetchone()[0] == str(first + 1)
        after.stop()
        assert after.running_port() is None
        after.ensure()  # stopped, then started: on the port asked for, not the one of creation
        assert after.running_port() == first + 1
    finally:
        after.stop()
