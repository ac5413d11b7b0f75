"""Prepare the load test's users (run by bench/load/run.sh before Locust; by hand not needed).

    DATABASE_URL=postgres://.../aftersales_large .venv/bin/python bench/load/setup.py OUT.json

For each of LOAD_USERS agents (taken in turn from each team, lowest ids first; as many
as Locust will start users, so that no two share a pool) it writes into OUT.json:
- an API token (rest_framework.authtoken; created once, reused by later runs), so 50
  Locust users never go through the login form and django-axes or a login throttle;
- a session key for the HTML pages (a real logged-in session row, as the login view
  would write), used only on page requests: the API requests carry the token alone,
  because a session-authenticated POST would need a CSRF token;
- its own pool of LOAD_POOL unassigned `new` tickets in its team (topped up each run;
  numbers LOAD-<user>-...), which only this user comments on and moves through the
  workflow, so no two users ever race on one ticket and no transition can answer 409;
- LOAD_READ_TICKETS recent tickets of its team to open (reads only);
and a token and a session for each manager, quality engineer and committee member (the
dashboard readers; Locust's few "lead" users share them, reading only).

Writes to the database: tokens, sessions and the pool tickets (kept: ~250 tickets per
run against 1,000,000)."""

import itertools
import json
import os
import secrets
import sys
from importlib import import_module
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from catalog.models import User  # noqa: E402
from catalog.roles import AGENT, COMMITTEE_MEMBER, MANAGER, QUALITY_ENGINEER  # noqa: E402
from quality.selectors import kpi_catalogue  # noqa: E402
from tickets.models import Channel, Status, Team, Ticket, TicketType  # noqa: E402
from tickets.services import ticket_create  # noqa: E402

USERS = int(os.environ.get("LOAD_USERS", "50"))
POOL = int(os.environ.get("LOAD_POOL", "5"))
READ_TICKETS = int(os.environ.get("LOAD_READ_TICKETS", "100"))
PREFIX = "LOAD-"
LEAD_ROLES = (MANAGER, QUALITY_ENGINEER, COMMITTEE_MEMBER)


def session_key_for(user) -> str:
    # The same three keys django.contrib.auth.login stores; ModelBackend is the backend
    # that restores the user on each request.
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.set_expiry(6 * 3600)
    store.create()
    return store.session_key


def pool_for(user, team) -> list[dict]:
    mine = Ticket.objects.filter(external_id__startswith=f"{PREFIX}{user.username}-", team=team)
    # Left over from an earlier run: still the user's alone; Locust picks up from their status.
    tickets = list(mine.exclude(status=Status.CLOSED).order_by("id").values("id", "status", "version"))
    missing = POOL - sum(1 for t in tickets if t["status"] == Status.NEW)
    if missing > 0:
        customer = Ticket.objects.filter(team=team).select_related("customer").order_by("-id")[0].customer
        for _ in range(missing):
            ticket = ticket_create(
                actor=user,
                customer=customer,
                subject="Load test ticket",
                type=TicketType.REPAIR,
                channel=Channel.PHONE,
                team=team,
                external_id=f"{PREFIX}{user.username}-{secrets.token_hex(4)}",
                dispatch=False,
            )
            tickets.append({"id": ticket.pk, "status": ticket.status, "version": ticket.version})
    return tickets


def main(out: Path) -> None:
    # Agents taken in turn from each team, so the load spreads over every team's queue.
    teams = [
        [(user, team) for user in team.members.filter(is_active=True, groups__name=AGENT).order_by("id")]
        for team in Team.objects.order_by("id")
    ]
    agents, seen = [], set()
    for row in itertools.zip_longest(*teams):
        for user, team in filter(None, row):
            if user.pk not in seen:
                seen.add(user.pk)
                agents.append((user, team))
    agents = agents[:USERS]
    if len(agents) < USERS:
        sys.exit(f"only {len(agents)} agents in teams; LOAD_USERS={USERS}")
    rows = []
    for user, team in agents:
        reads = list(
            Ticket.objects.filter(team=team)
            .exclude(external_id__startswith=PREFIX)
            .order_by("-created_at")
            .values_list("id", flat=True)[:READ_TICKETS]
        )
        rows.append(
            {
                "username": user.username,
                "token": Token.objects.get_or_create(user=user)[0].key,
                "session": session_key_for(user),
                "team": team.name,
                "pool": pool_for(user, team),
                "read_tickets": reads,
            }
        )
    # The dashboard readers: the global-read roles, whose KPI reads come from the snapshots.
    leads = [
        {
            "username": user.username,
            "token": Token.objects.get_or_create(user=user)[0].key,
            "session": session_key_for(user),
        }
        for user in User.objects.filter(is_active=True, groups__name__in=LEAD_ROLES).distinct().order_by("id")
    ]
    if not leads:
        sys.exit("no manager, quality engineer or committee member in the database")
    lead = User.objects.get(username=leads[0]["username"])
    lead_kpis = [{"code": kpi.code, "dims": list(kpi.dims)} for kpi in kpi_catalogue(user=lead)]
    out.write_text(json.dumps({"users": rows, "leads": leads, "lead_kpis": lead_kpis}, indent=1))
    pooled = sum(len(r["pool"]) for r in rows)
    print(f"setup: {len(rows)} users, {pooled} pool tickets, written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/aftersales-load-users.json"))
