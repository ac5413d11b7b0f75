"""deploy/backup.sh and deploy/restore.sh against real PostgreSQL: rows made through the
services are dumped, restored into a new database, and found there unchanged (every
table's row count, checksums of the key tables, the media files), and the restored
database passes `migrate --check`. Also: a non-empty target is refused without --clean,
a tampered dump is refused, and a backup whose migrations lag behind the code exits 3."""

import hashlib
import os
import subprocess
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from quality.services.kpi import kpi_snapshots_refresh
from tests.factories import CustomerFactory, FailureFactory
from tickets.services.tickets import ticket_comment, ticket_create, ticket_transition

REPO = Path(__file__).resolve().parents[2]
BACKUP = REPO / "deploy" / "backup.sh"
RESTORE = REPO / "deploy" / "restore.sh"

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Checksummed row by row, in id order: any changed value, lost or extra row shows.
KEY_TABLES = ["tickets_ticket", "tickets_ticketevent", "quality_failure", "quality_kpisnapshot", "catalog_customer"]


def database_url(name: str) -> str:
    s = connection.settings_dict
    user, password = quote(s["USER"], safe=""), quote(s["PASSWORD"] or "", safe="")
    return f"postgres://{user}:{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


def admin_connection() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        user=s["USER"],
        password=s["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    )


@pytest.fixture
def fresh_database():
    name = f"test_restore_{uuid.uuid4().hex[:10]}"
    with admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(script: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/bash", str(script), *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def backup(tmp_path: Path, url: str, media_root: Path) -> tuple[Path, Path]:
    result = run(BACKUP, str(tmp_path / "backups"), DATABASE_URL=url, MEDIA_ROOT=str(media_root))
    assert result.returncode == 0, result.stderr
    dump, media = result.stdout.strip().splitlines()[-2:]
    return Path(dump), Path(media)


def table_fingerprint(url: str) -> dict:
    """{table: row count} for every table, plus {table: md5} for the key tables."""
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        count = sql.SQL("SELECT count(*) FROM {}")
        digest = sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {} t")
        counts = {table: conn.execute(count.format(sql.Identifier(table))).fetchone()[0] for table in tables}
        sums = {table: conn.execute(digest.format(sql.Identifier(table))).fetchone()[0] for table in KEY_TABLES}
    return {"counts": counts, "md5": sums}


def files_of(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


@pytest.fixture
def some_data(agent, team_a):
    customer = CustomerFactory(name='华东制冷 O\'Brien, "quoted"')
    ticket = ticket_create(
        actor=agent,
        customer=customer,
        subject="压缩机异响 | noise\nline two",
        type="repair",
        channel="phone",
        team=team_a,
    )
    ticket_comment(ticket_id=ticket.pk, actor=agent, body="We will call back. 我们会回电。", public=True)
    ticket_transition(ticket_id=ticket.pk, to_status="in_progress", actor=agent)
    FailureFactory(ticket=ticket)
    kpi_snapshots_refresh(full=True)
    return ticket


def test_backup_restored_into_a_new_database_is_identical(tmp_path, some_data, fresh_database):
    media_root = tmp_path / "media"
    (media_root / "imports" / "abc").mkdir(parents=True)
    (media_root / "imports" / "abc" / "客户.csv").write_text("code,name\nC1,甲\n", encoding="utf-8")
    (media_root / "reports").mkdir()
    (media_root / "reports" / "r1.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)))
    source = database_url(connection.settings_dict["NAME"])
    before = table_fingerprint(source)
    assert before["counts"]["tickets_ticket"] == 1
    assert before["counts"]["tickets_ticketevent"] >= 3  # created, comment, transition
    assert before["counts"]["quality_kpisnapshot"] > 0

    dump, media = backup(tmp_path, source, media_root)
    assert dump.name.startswith("aftersales-") and dump.suffix == ".dump"
    assert Path(f"{dump}.sha256").is_file() and Path(f"{media}.sha256").is_file()
    assert oct(dump.stat().st_mode & 0o777) == "0o600"

    restored_media = tmp_path / "restored-media"
    target = database_url(fresh_database)
    result = run(RESTORE, "--database-url", target, str(dump), str(media), MEDIA_ROOT=str(restored_media))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "migrations in step" in result.stdout

    after = table_fingerprint(target)
    assert after["counts"] == before["counts"]
    assert after["md5"] == before["md5"]
    assert all(after["md5"][table] for table in KEY_TABLES)  # not md5 of nothing
    assert files_of(restored_media) == files_of(media_root)
    assert len(files_of(restored_media)) == 2

    # Restoring over a database that has tables needs --clean...
    refused = run(RESTORE, "--database-url", target, str(dump))
    assert refused.returncode == 2
    assert "pass --clean" in refused.stderr

    # ...and a restored database whose migrations lag behind the code is reported (exit 3):
    # drop the newest migration record there, back it up, restore that over it with --clean.
    with psycopg.connect(target.replace("postgres://", "postgresql://", 1)) as conn:
        conn.execute("DELETE FROM django_migrations WHERE id = (SELECT max(id) FROM django_migrations)")
    lagging, _ = backup(tmp_path / "lagging", target, media_root)
    behind = run(RESTORE, "--clean", "--database-url", target, str(lagging))
    assert behind.returncode == 3, behind.stdout + behind.stderr
    assert "run manage.py migrate" in behind.stderr
    lagging_counts = table_fingerprint(target)["counts"]
    assert lagging_counts == {**before["counts"], "django_migrations": before["counts"]["django_migrations"] - 1}


def test_restore_refuses_a_tampered_dump(tmp_path, fresh_database):
    dump = tmp_path / "aftersales-20260101T000000Z.dump"
    dump.write_bytes(b"not what was backed up")
    Path(f"{dump}.sha256").write_text(f"{'0' * 64}  {dump.name}\n")
    result = run(RESTORE, "--database-url", database_url(fresh_database), str(dump))
    assert result.returncode == 1
    assert "checksum mismatch" in result.stderr


def test_failed_backup_exits_non_zero_and_leaves_no_file(tmp_path):
    url = database_url("no_such_database_" + uuid.uuid4().hex[:8])
    result = run(BACKUP, str(tmp_path), DATABASE_URL=url, MEDIA_ROOT=str(tmp_path / "media"))
    assert result.returncode != 0
    assert list(tmp_path.iterdir()) == []


def test_backup_deletes_only_backups_past_retention(tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    old, recent, other = (
        backups / "aftersales-20200101T000000Z.dump",
        backups / "aftersales-recent.dump",
        backups / "notes.txt",
    )
    for path in (old, recent, other):
        path.write_text("x")
    forty_days_ago = old.stat().st_mtime - 40 * 86400
    os.utime(old, (forty_days_ago, forty_days_ago))
    os.utime(other, (forty_days_ago, forty_days_ago))
    result = run(
        BACKUP,
        str(backups),
        DATABASE_URL=database_url(connection.settings_dict["NAME"]),
        MEDIA_ROOT=str(tmp_path / "missing-media"),
        BACKUP_RETENTION_DAYS="30",
    )
    assert result.returncode == 0, result.stderr
    assert not old.exists()
    assert recent.exists() and other.exists()
    assert "does not exist; archiving no files" in result.stderr
    assert len(list(backups.glob("aftersales-*.dump"))) == 2  # the recent one and the new one
