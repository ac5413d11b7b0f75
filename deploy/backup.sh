#!/usr/bin/env bash
# Back up the after-sales platform: the PostgreSQL database of DATABASE_URL (pg_dump custom
# format, restorable table by table and in parallel) and the uploaded/generated files of
# MEDIA_ROOT (a tar.gz), both named with the same UTC time stamp, each with a .sha256 file.
# Then deletes backups older than BACKUP_RETENTION_DAYS. Exits non-zero on any failure,
# without touching the older backups, so cron/systemd timers can alert on it.
#
#   deploy/backup.sh [BACKUP_DIR]          (environment: deploy/env.example)
#
# BACKUP_DIR defaults to $BACKUP_DIR or /var/backups/aftersales; retention to 14 days.
# The last two lines of the output are the paths of the dump and of the media archive.
set -euo pipefail
umask 077  # the dump holds customers' data and password hashes

: "${DATABASE_URL:?DATABASE_URL must be set (postgres://user:password@host:5432/name)}"
case "$DATABASE_URL" in
  postgres://* | postgresql://*) ;;
  *) echo "backup.sh: DATABASE_URL is not a PostgreSQL URL" >&2; exit 2 ;;
esac
app_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
backup_dir=${1:-${BACKUP_DIR:-/var/backups/aftersales}}
retention_days=${BACKUP_RETENTION_DAYS:-14}
media_root=${MEDIA_ROOT:-${VAR_DIR:-$app_dir/var}/media}
[[ "$retention_days" =~ ^[0-9]+$ ]] || { echo "backup.sh: BACKUP_RETENTION_DAYS must be a number" >&2; exit 2; }

# pg_dump must be at least as new as the server: prefer the newest installed.
pg_bin() {
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$newest" && -x "$newest/$1" ]]; then echo "$newest/$1"; else command -v "$1"; fi
}
pg_dump=$(pg_bin pg_dump)
pg_restore=$(pg_bin pg_restore)

mkdir -p "$backup_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
dump="$backup_dir/aftersales-$stamp.dump"
media="$backup_dir/aftersales-media-$stamp.tar.gz"
# Written under a temporary name and renamed when complete: a half-written file is never
# mistaken for a backup, and a failure leaves nothing behind.
cleanup() { rm -f "$dump.partial" "$media.partial"; }
trap cleanup EXIT

# One consistent snapshot of the whole database (pg_dump runs in one repeatable-read
# transaction), while the application keeps running.
"$pg_dump" --format=custom --compress=6 --dbname="$DATABASE_URL" --file="$dump.partial"
# A dump that pg_restore cannot read is no backup.
"$pg_restore" --list "$dump.partial" >/dev/null

if [[ -d "$media_root" ]]; then
  tar -czf "$media.partial" -C "$media_root" .
else
  echo "backup.sh: MEDIA_ROOT $media_root does not exist; archiving no files" >&2
  tar -czf "$media.partial" --files-from /dev/null
fi

mv "$dump.partial" "$dump"
mv "$media.partial" "$media"
(cd "$backup_dir" && sha256sum "$(basename "$dump")" >"$dump.sha256" && sha256sum "$(basename "$media")" >"$media.sha256")

# Retention only after a good backup: a failing backup never eats the last good ones.
find "$backup_dir" -maxdepth 1 -type f -name 'aftersales-*' -mtime "+$retention_days" -print -delete \
  | sed 's/^/backup.sh: deleted old /' >&2

echo "$dump"
echo "$media"
