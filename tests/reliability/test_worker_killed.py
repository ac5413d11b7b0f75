"""A worker killed mid-task (SIGKILL): the task runs again and its effect happens once.

The SLA sweep is stopped inside its ticket transaction, after it recorded the level-1
escalation and while it inserts the notification (the test holds the notification table
in EXCLUSIVE mode). Then the pool process is killed (acks_late + reject_on_worker_lost:
the main process puts the message back), or the whole worker (the message stays
unacknowledged in Redis until the visibility timeout, then a new worker gets it)."""

import time

import pytest
from django.utils import timezone

from tests.factories import BreachedTicketFactory, TeamFactory, UserFactory
from tickets.models import Escalation, Notification, Ticket, TicketEvent
from tickets.tasks import sla_sweep_task

from .harness import Gate, backends, wait_backend_gone, wait_backends_waiting

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

VISIBILITY_TIMEOUT = 2  # seconds; production: longer than the slowest task (3600)


def breached_ticket() -> Ticket:
    # 24x7 (no calendar): created 10 h ago, due 1 h ago -> level 1 (at 80 %) and level 2
    # (the due time) are reached, level 3 (4 h after the due time) is not.
    supervisor = UserFactory(username="kill_super", roles=["supervisor"])
    team = TeamFactory(name="Kill team", supervisor=supervisor, members=[supervisor])
    return BreachedTicketFactory(external_id="T-KILL", team=team, priority="normal")


def assert_escalated_once(ticket: Ticket) -> None:
    assert sorted(Escalation.objects.filter(ticket=ticket).values_list("target", "level")) == [
        ("resolution", 1),
        ("resolution", 2),
    ]
    assert sorted(Notification.objects.filter(payload__ticket_id=ticket.pk).values_list("kind", flat=True)) == [
        "sla.at_risk",
        "sla.breached",
    ]
    assert TicketEvent.objects.filter(ticket=ticket, kind="escalated").count() == 1
    ticket.refresh_from_db()
    assert ticket.priority == "high"  # one step up from normal, not two
    assert ticket.sla_next_check_at is not None and ticket.sla_next_check_at > timezone.now()


def stop_in_the_notification_insert(worker) -> tuple[Gate, str, int]:
    """Queue a sweep and return once its session waits on the held notification table
    (its ticket locked, the level-1 escalation inserted, nothing committed)."""
    gate = Gate().lock_table("tickets_notification", "EXCLUSIVE")
    result = sla_sweep_task.apply_async(queue=worker.queue)
    [waiting] = wait_backends_waiting(worker.app_name)
    assert "tickets_notification" in waiting["query"], waiting
    return gate, result.id, waiting["pid"]


def let_the_orphan_end(gate: Gate, pid: int) -> None:
    """The killed process's session still waits on the lock, holding the ticket row: once
    let go, its INSERT finishes, it finds its client gone and rolls back."""
    gate.open()
    gate.close()
    wait_backend_gone(pid)


def test_a_killed_pool_process_is_redelivered_and_escalates_once(worker_factory):
    ticket = breached_ticket()
    worker = worker_factory("kill-pool")
    gate, task_id, orphan = stop_in_the_notification_insert(worker)
    assert Escalation.objects.filter(ticket=ticket).count() == 0  # not committed
    # The redelivered sweep must not meet the orphan session's ticket lock (it would
    # skip the ticket until the next beat run): stop consuming until the orphan is gone.
    worker.control("cancel_consumer", queue=worker.queue)
    killed = worker.kill_pool()
    assert killed
    worker.wait_log(r"WorkerLostError")
    let_the_orphan_end(gate, orphan)
    assert Escalation.objects.filter(ticket=ticket).count() == 0  # the orphan rolled back
    worker.control("add_consumer", queue=worker.queue)
    worker.succeeded(task_id)
    assert worker.count(rf"sla_sweep_task\[{task_id}\] received") == 2  # ran again
    assert_escalated_once(ticket)


def test_a_killed_worker_is_redelivered_after_the_visibility_timeout(worker_factory):
    ticket = breached_ticket()
    dead = worker_factory("kill-all")
    gate, task_id, orphan = stop_in_the_notification_insert(dead)
    dead.kill_all()  # main process and pool: nobody will reject the message
    killed_at = time.monotonic()
    let_the_orphan_end(gate, orphan)
    assert Escalation.objects.filter(ticket=ticket).count() == 0
    assert backends(dead.app_name) == []
    # The message waits in Redis's unacknowledged set. A worker puts back the ones older
    # than its visibility timeout when it starts (and then every ~100 s): start the heir
    # once the message is surely older than that.
    time.sleep(max(0.0, killed_at + VISIBILITY_TIMEOUT + 0.5 - time.monotonic()))
    heir = worker_factory("heir", queue=dead.queue, env={"CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)})
    heir.succeeded(task_id, timeout=60)
    assert_escalated_once(ticket)
