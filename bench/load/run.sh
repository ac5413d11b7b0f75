#!/usr/bin/env bash
# Load test of issue 10 (run by hand, never in CI): gunicorn with 3 workers on loopback,
# production settings, PostgreSQL with the large demo (1,000,000 tickets), and Locust
# headless: 50 users for 60 s, 70 % reads / 20 % comments / 10 % transitions
# (bench/load/locustfile.py). Passes with 0 errors and a total p95 <= 300 ms.
#
#   export DATABASE_URL=postgres://aftersales:aftersales@127.0.0.1:5432/aftersales_large
#   bash bench/load/run.sh                          # the full run
#   LOAD_DURATION=10s bash bench/load/run.sh        # a smoke run
#
# Settings (environment): LOAD_USERS (50), LOAD_SPAWN_RATE (10/s), LOAD_DURATION (60s),
# LOAD_WORKERS (3), LOAD_PORT (8765), LOAD_POOL (5 fresh tickets per user),
# LOAD_REDIS (redis://127.0.0.1:6379/6: cache and broker of the served app),
# LOAD_OUT (var/load/<timestamp>: CSVs, gunicorn log, prepared users).
# Steps: migrate, collectstatic, setup.py (tokens, sessions, ticket pools), gunicorn,
# Locust, then a summary per request type and the verdict. Exit 0 only on a pass.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${DATABASE_URL:?set DATABASE_URL to the PostgreSQL database with the large demo}"
USERS=${LOAD_USERS:-50}
SPAWN=${LOAD_SPAWN_RATE:-10}
DURATION=${LOAD_DURATION:-60s}
WORKERS=${LOAD_WORKERS:-3}
PORT=${LOAD_PORT:-8765}
REDIS=${LOAD_REDIS:-redis://127.0.0.1:6379/6}
OUT=${LOAD_OUT:-var/load/$(date +%Y%m%d-%H%M%S)}
P95_LIMIT_MS=${LOAD_P95_LIMIT_MS:-300}
mkdir -p "$OUT"

# Locust lives in its own virtual environment: the app's .venv stays as requirements.txt says.
if [ ! -x .venv-load/bin/locust ]; then
  python3 -m venv .venv-load
  .venv-load/bin/pip install -q -r bench/requirements-load.txt
fi

# Production settings, plain HTTP on loopback (no TLS in front here, so no SSL redirect).
export DJANGO_SETTINGS_MODULE=aftersales.settings.production
SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')
export SECRET_KEY
export ALLOWED_HOSTS=127.0.0.1,localhost
export SECURE_SSL_REDIRECT=0
export LOG_LEVEL=${LOG_LEVEL:-WARNING}
export CACHE_URL=${CACHE_URL:-$REDIS}
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-$REDIS}
export LOAD_USERS=$USERS
# django-prometheus with several gunicorn workers keeps its counters in files.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$OUT/prometheus}
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python bench/load/setup.py "$OUT/users.json"

# Helper D's deploy/gunicorn.conf.py when present (its workers/bind are overridden here).
gunicorn_config=()
if [ -f deploy/gunicorn.conf.py ]; then
  gunicorn_config=(-c deploy/gunicorn.conf.py)
  echo "gunicorn: deploy/gunicorn.conf.py, --workers $WORKERS --bind 127.0.0.1:$PORT"
else
  echo "gunicorn: plain flags (sync workers), --workers $WORKERS --bind 127.0.0.1:$PORT"
fi
.venv/bin/gunicorn "${gunicorn_config[@]}" --workers "$WORKERS" --bind "127.0.0.1:$PORT" \
  --access-logfile - --error-logfile "$OUT/gunicorn-error.log" aftersales.wsgi:application \
  >"$OUT/gunicorn-access.log" 2>&1 &
gunicorn_pid=$!
trap 'kill "$gunicorn_pid" 2>/dev/null; wait "$gunicorn_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/login/" && break
  kill -0 "$gunicorn_pid" 2>/dev/null || { cat "$OUT/gunicorn-error.log"; exit 1; }
  sleep 0.5
done

cpu_seconds() {  # user+system CPU seconds of the gunicorn workers and of PostgreSQL's processes
  python3 - "$gunicorn_pid" <<'EOF'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick
    except OSError:
        return 0.0
master = int(sys.argv[1])
web = pg = 0.0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
        comm = open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        continue
    ppid = int(stat.rsplit(")", 1)[1].split()[1])
    if int(pid) == master or ppid == master:
        web += cpu(pid)
    elif comm.startswith("postgres"):
        pg += cpu(pid)
print(f"{web:.1f} {pg:.1f}")
EOF
}
read -r web0 pg0 < <(cpu_seconds)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

set +e
LOAD_USERS_FILE="$OUT/users.json" .venv-load/bin/locust -f bench/load/locustfile.py --headless \
  -u "$USERS" -r "$SPAWN" -t "$DURATION" --host "http://127.0.0.1:$PORT" \
  --csv "$OUT/locust" --only-summary --loglevel WARNING >"$OUT/locust.log" 2>&1
set -e
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
read -r web1 pg1 < <(cpu_seconds)

.venv-load/bin/python - "$OUT" "$P95_LIMIT_MS" "$web0" "$web1" "$pg0" "$pg1" <<'EOF'
import csv, sys
out, limit = sys.argv[1], float(sys.argv[2])
web, pg = float(sys.argv[4]) - float(sys.argv[3]), float(sys.argv[6]) - float(sys.argv[5])
rows = list(csv.DictReader(open(f"{out}/locust_stats.csv")))
total = next(r for r in rows if r["Name"] == "Aggregated")
print(f"\n{'request':<42} {'reqs':>6} {'fail':>5} {'rps':>6} {'p50':>5} {'p95':>5} {'p99':>5} {'max':>6}  (ms)")
for r in rows:
    label = "total" if r is total else r["Name"]
    print(
        f"{label:<42} {r['Request Count']:>6} {r['Failure Count']:>5} {float(r['Requests/s']):>6.1f} "
        f"{r['50%']:>5} {r['95%']:>5} {r['99%']:>5} {float(r['Max Response Time']):>6.0f}"
    )
count = int(total["Request Count"])
writes = {"comment": 0, "transition": 0}
for r in rows:
    if r["Name"].startswith("POST") and r is not total:
        writes["comment" if "comment" in r["Name"] else "transition"] += int(r["Request Count"])
reads = count - sum(writes.values())
if count:
    print(
        f"mix: reads {100 * reads / count:.0f} %, comments {100 * writes['comment'] / count:.0f} %, "
        f"transitions {100 * writes['transition'] / count:.0f} %"
    )
print(f"CPU seconds during the run: gunicorn {web:.1f}, PostgreSQL {pg:.1f}")
failures = list(csv.DictReader(open(f"{out}/locust_failures.csv")))
for f in failures[:10]:
    print(f"failure: {f['Method']} {f['Name']} x{f['Occurrences']}: {f['Error'][:200]}")
errors, p95 = int(total["Failure Count"]), float(total["95%"])
ok = count > 0 and errors == 0 and p95 <= limit
print(f"verdict: {'PASS' if ok else 'FAIL'} ({count} requests, {errors} errors, p95 {p95:.0f} ms, limit {limit:.0f} ms)")
print(f"files: {out}/")
sys.exit(0 if ok else 1)
EOF
