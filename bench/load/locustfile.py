"""Locust scenario of issue 10's load test (run by bench/load/run.sh): 50 users working at
once, 45 agents and 5 leads (LOAD_LEADS), on the data prepared by bench/load/setup.py
(tokens, sessions, ticket pools; file LOAD_USERS_FILE).

- An agent (one demo agent each) opens its home dashboard (HTML), its team's open-ticket
  queue (a third of the time only its own), a ticket with its timeline (60 of 90), adds
  an internal note or a public reply to one of its pool tickets (20 of 90) and moves its
  current pool ticket one workflow step on (10 of 90): assign to self, start, wait for
  the customer, resume, resolve, close.
- A lead (the manager, quality engineer and committee member share 5 users) reads the
  dashboards only: the overview page (HTML) and its overview API, one KPI's 12 months of
  values (half of them by region), the firing alerts.

With 45 agents and 5 leads that is 70 % reads (dashboards included), 20 % comments and
10 % transitions. The dashboards are read by the global-read roles: an agent's or a
supervisor's KPI reads are scoped to their teams and computed live, not from the
snapshots (see bench/RESULTS.md).

Only the agent that owns a pool ticket writes to it, and it sends the version of that
ticket from its own last response, so a 409 (stale version or a forbidden step) is a
real error, never two users racing. Think time: between(0.5, 2) s per user, so 50 users
make ~35-40 requests/s when responses are fast: a busy team, far above one person's pace.

API requests authenticate with the token only; page requests send the session cookie
alone and the cookie jar is emptied after them (a session-authenticated POST would need
a CSRF token)."""

import datetime as dt
import itertools
import json
import os
import random

from locust import FastHttpUser, between, events, task
from locust.exception import StopUser

OPEN = ("new", "assigned", "in_progress", "waiting_customer")
_prepared: dict = {}
_next_agent = itertools.count()
_next_lead = itertools.count()


@events.init.add_listener
def _load_users(environment, **kwargs):
    with open(os.environ.get("LOAD_USERS_FILE", "/tmp/aftersales-load-users.json")) as f:
        _prepared.update(json.load(f))


def _months() -> tuple[str, str]:
    """The dashboard's default range: the last 12 months, by month (end exclusive)."""
    today = dt.date.today()
    end = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    start = end
    for _ in range(12):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return start.isoformat(), end.isoformat()


class _User(FastHttpUser):
    abstract = True
    wait_time = between(0.5, 2.0)

    def login(self, me: dict) -> None:
        self.username = me["username"]
        self.session = me["session"]
        self.api = {"Authorization": f"Token {me['token']}", "Accept": "application/json"}

    def page(self, path: str, name: str) -> None:
        self.client.get(path, headers={"Cookie": f"sessionid={self.session}"}, name=name)
        self.client.cookiejar.clear()


class Lead(_User):
    fixed_count = int(os.environ.get("LOAD_LEADS", "5"))

    def on_start(self):
        leads = _prepared["leads"]
        self.login(leads[next(_next_lead) % len(leads)])  # read-only: sharing an account is harmless
        start, end = _months()
        self.range = f"grain=month&start={start}&end={end}"
        self.kpis = _prepared["lead_kpis"]

    @task(15)
    def dashboard_page(self):
        self.page("/dashboards/", "GET /dashboards/ (page)")

    @task(25)
    def kpi_overview(self):
        self.client.get(f"/api/v1/kpis/overview/?{self.range}", headers=self.api, name="GET /api/v1/kpis/overview/")

    @task(40)
    def kpi_values(self):
        kpi = random.choice(self.kpis)
        by = "&by=region" if "region" in kpi["dims"] and random.random() < 0.5 else ""
        self.client.get(
            f"/api/v1/kpis/{kpi['code']}/values/?{self.range}{by}",
            headers=self.api,
            name="GET /api/v1/kpis/{code}/values/",
        )

    @task(20)
    def alerts(self):
        self.client.get("/api/v1/alerts/?status=firing", headers=self.api, name="GET /api/v1/alerts/")


class Agent(_User):
    def on_start(self):
        agents = _prepared["users"]
        index = next(_next_agent)
        if index >= len(agents):
            # Sharing a pool would make two users race on one ticket.
            raise StopUser(f"only {len(agents)} prepared agents; run setup.py with LOAD_USERS >= the agent count")
        me = agents[index]
        self.login(me)
        self.pool = me["pool"]
        self.reads = me["read_tickets"]

    # --- reads (60 of 90) -----------------------------------------------------------------

    @task(6)
    def home_page(self):
        self.page("/dashboards/home/", "GET /dashboards/home/ (agent page)")

    @task(24)
    def ticket_queue(self):
        query = "&".join(f"status={s}" for s in OPEN) + "&page_size=25"
        if random.random() < 1 / 3:
            query += f"&assignee={self.username}"
        self.client.get(f"/api/v1/tickets/?{query}", headers=self.api, name="GET /api/v1/tickets/ (open queue)")

    @task(30)
    def ticket_detail(self):
        pk = random.choice(self.reads)
        self.client.get(f"/api/v1/tickets/{pk}/", headers=self.api, name="GET /api/v1/tickets/{id}/")

    # --- writes: comments (20 of 90) and transitions (10 of 90) ---------------------------

    def _current(self) -> dict:
        for ticket in self.pool:
            if ticket["status"] != "closed":
                return ticket
        return self.pool[-1]

    def _post(self, ticket: dict, action: str, body: dict, name: str, expect: int = 200):
        with self.client.post(
            f"/api/v1/tickets/{ticket['id']}/{action}/", json=body, headers=self.api, name=name, catch_response=True
        ) as response:
            if response.status_code != expect:
                response.failure(f"{response.status_code}: {response.text[:300]}")
                return
            data = response.json()
            ticket["status"], ticket["version"] = data["status"], data["version"]

    @task(20)
    def comment(self):
        ticket = self._current()
        public = random.random() < 0.3
        body = {
            "body": "Called the customer; spare part ordered." if public else "Checked the unit history.",
            "public": public,
        }
        self._post(ticket, "comment", body, "POST /api/v1/tickets/{id}/comment/", expect=201)

    @task(10)
    def transition(self):
        ticket = self._current()
        status = ticket["status"]
        if status == "new":
            body = {"assignee": self.username, "version": ticket["version"]}
            self._post(ticket, "assign", body, "POST /api/v1/tickets/{id}/assign/")
            return
        if status == "in_progress":
            # Every ticket waits for the customer once before it is resolved.
            to = "resolved" if ticket.get("waited") else "waiting_customer"
            ticket["waited"] = True
        else:
            # closed only when the whole pool is used up: reopen the last ticket and go on.
            to = {"assigned": "in_progress", "waiting_customer": "in_progress", "resolved": "closed"}.get(
                status, "in_progress"
            )
        body = {"status": to, "version": ticket["version"], "comment": ""}
        self._post(ticket, "transition", body, "POST /api/v1/tickets/{id}/transition/")
