#!/usr/bin/env bash
# Restore a backup of deploy/backup.sh into a PostgreSQL database, then check that the
# code's migrations match it (`manage.py migrate --check`).
#
#   deploy/restore.sh [--clean] [--database-url URL] DUMP [MEDIA_TARBALL]
#
# The target is --database-url, else DATABASE_URL. Without --clean it must be empty (a new
# database: `createdb -O aftersales aftersales_restored`); with --clean the objects of the
# backup are dropped first (--clean --if-exists), for restoring over a live database: stop
# web, workers and beat first. The restore runs in one transaction: it applies completely
# or not at all. MEDIA_TARBALL, when given, is unpacked into MEDIA_ROOT.
# Exit status: 0 restored and migrations in step; 1 restore failed; 2 usage;
# 3 restored but migrations are not in step (an older backup: run `manage.py migrate`).
set -euo pipefail

usage() { sed -n '4,5p' "$0" >&2; exit 2; }
clean=0
target=${DATABASE_URL:-}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --clean) clean=1; shift ;;
    --database-url) [[ $# -ge 2 ]] || usage; target=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "restore.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[[ $# -ge 1 && $# -le 2 ]] || usage
dump=$1
media=${2:-}
[[ -n "$target" ]] || { echo "restore.sh: no target: set DATABASE_URL or pass --database-url" >&2; exit 2; }
[[ -f "$dump" ]] || { echo "restore.sh: no such dump: $dump" >&2; exit 2; }
[[ -z "$media" || -f "$media" ]] || { echo "restore.sh: no such media archive: $media" >&2; exit 2; }

app_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-$app_dir/.venv/bin/python}
[[ -x "$python" ]] || python=python3
pg_bin() {
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$newest" && -x "$newest/$1" ]]; then echo "$newest/$1"; else command -v "$1"; fi
}
psql=$(pg_bin psql)
pg_restore=$(pg_bin pg_restore)

# A checksum written by backup.sh next to the dump must match.
files=("$dump")
[[ -n "$media" ]] && files+=("$media")
for file in "${files[@]}"; do
  if [[ -f "$file.sha256" ]]; then
    (cd "$(dirname "$file")" && sha256sum --check --status "$(basename "$file").sha256") \
      || { echo "restore.sh: checksum mismatch for $file" >&2; exit 1; }
  fi
done

if [[ $clean -eq 0 ]]; then
  tables=$("$psql" --dbname="$target" -XAtqc \
    "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
  if [[ "$tables" != 0 ]]; then
    echo "restore.sh: the target database has $tables tables; restore into an empty one or pass --clean" >&2
    exit 2
  fi
fi

options=(--no-owner --no-acl --exit-on-error --single-transaction)
[[ $clean -eq 1 ]] && options+=(--clean --if-exists)
"$pg_restore" "${options[@]}" --dbname="$target" "$dump" || { echo "restore.sh: pg_restore failed" >&2; exit 1; }
echo "restore.sh: database restored from $dump"

if [[ -n "$media" ]]; then
  media_root=${MEDIA_ROOT:-${VAR_DIR:-$app_dir/var}/media}
  mkdir -p "$media_root"
  tar -xzf "$media" -C "$media_root" || { echo "restore.sh: unpacking $media failed" >&2; exit 1; }
  echo "restore.sh: files restored into $media_root"
fi

if ! (cd "$app_dir" && DATABASE_URL=$target "$python" manage.py migrate --check --noinput); then
  echo "restore.sh: the database does not match this code's migrations; run manage.py migrate" >&2
  exit 3
fi
echo "restore.sh: migrations in step"
