"""Report subscriptions: a standing order for the management quality report, sent by
e-mail on a schedule that django-celery-beat runs (one PeriodicTask per subscription),
and the delivery log that makes every reported period go out once.

Periods, by the local calendar (settings.TIME_ZONE), end exclusive:
- weekly: the previous ISO week, Monday to Monday;
- monthly: the previous calendar month;
- cron: from the day of the previous run before today up to today. A cron that fires
  several times a day still reports whole days, so it delivers once a day."""

from __future__ import annotations

import datetime as dt
import json
import logging

from celery.schedules import crontab
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from catalog.db import lock_one
from catalog.exceptions import ApplicationError

from ..models import (
    DeliveryStatus,
    GeneratedReport,
    ReportKind,
    ReportStatus,
    ReportSubscription,
    Schedule,
    SubscriptionDelivery,
)
from .generation import report_filters_clean, report_generate, report_languages, report_pdf_bytes, report_request

logger = logging.getLogger(__name__)

TASK_NAME = "reports.tasks.subscription_deliver_task"
# The fixed schedules: weekly on Monday, monthly on the 1st, both at 07:00 local time.
WEEKLY_CRON = "0 7 * * 1"
MONTHLY_CRON = "0 7 1 * *"
MAX_RECIPIENTS = 50
# How far back a cron schedule's previous run is looked for.
CRON_LOOKBACK_DAYS = 400


# --- cron -------------------------------------------------------------------------------------


def cron_parse(expression: str) -> crontab:
    """The celery crontab of a 5-field expression "m h dom mon dow"; ValueError if invalid."""
    fields = (expression or "").split()
    if len(fields) != 5:
        raise ValueError("five fields are expected: minute hour day-of-month month day-of-week")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        schedule = crontab(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
        )
        # The sets are computed lazily by some celery versions: touch them to validate.
        schedule.minute, schedule.hour, schedule.day_of_month, schedule.month_of_year, schedule.day_of_week  # noqa: B018
    except Exception as error:  # celery's ParseException and ValueError alike
        raise ValueError(str(error) or "invalid expression") from None
    return schedule


def subscription_cron(subscription: ReportSubscription) -> str:
    if subscription.schedule == Schedule.WEEKLY:
        return WEEKLY_CRON
    if subscription.schedule == Schedule.MONTHLY:
        return MONTHLY_CRON
    return " ".join(subscription.cron.split())


def _fires_on(schedule: crontab, day: dt.date) -> bool:
    # celery counts weekdays from Sunday = 0; day-of-month and day-of-week must both match.
    return (
        day.month in schedule.month_of_year
        and day.day in schedule.day_of_month
        and day.isoweekday() % 7 in schedule.day_of_week
    )


def subscription_period(subscription: ReportSubscription, *, now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """[start, end) of the period a run at `now` reports (see the module docstring)."""
    today = timezone.localdate(now or timezone.now())
    if subscription.schedule == Schedule.WEEKLY:
        monday = today - dt.timedelta(days=today.weekday())
        return monday - dt.timedelta(weeks=1), monday
    if subscription.schedule == Schedule.MONTHLY:
        first = today.replace(day=1)
        return (first - dt.timedelta(days=1)).replace(day=1), first
    schedule = cron_parse(subscription.cron)
    for back in range(1, CRON_LOOKBACK_DAYS + 1):
        day = today - dt.timedelta(days=back)
        if _fires_on(schedule, day):
            return day, today
    return today - dt.timedelta(days=1), today


# --- saving -----------------------------------------------------------------------------------


def _recipients_clean(recipients) -> list[str]:
    if isinstance(recipients, str):
        recipients = [part for part in recipients.replace(";", ",").replace("\n", ",").split(",")]
    if not isinstance(recipients, (list, tuple)):
        raise ApplicationError(_("Invalid recipients."), errors={"recipients": [_("A list of e-mail addresses.")]})
    cleaned: list[str] = []
    for address in recipients:
        address = str(address or "").strip()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ApplicationError(
                _("Invalid recipients."),
                errors={"recipients": [_("Not an e-mail address: %(address)s") % {"address": address[:100]}]},
            ) from None
        if address.lower() not in {a.lower() for a in cleaned}:
            cleaned.append(address)
    if len(cleaned) > MAX_RECIPIENTS:
        raise ApplicationError(
            _("Invalid recipients."), errors={"recipients": [_("At most %(n)d recipients.") % {"n": MAX_RECIPIENTS}]}
        )
    return cleaned


def _periodic_task_sync(subscription: ReportSubscription) -> None:
    """Create or update the subscription's beat task with its crontab (local time zone)."""
    minute, hour, day_of_month, month_of_year, day_of_week = subscription_cron(subscription).split()
    schedule, _created = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone=settings.TIME_ZONE,
    )
    fields = {
        "name": f"report-subscription-{subscription.pk}",
        "task": TASK_NAME,
        "crontab": schedule,
        "interval": None,
        "kwargs": json.dumps({"subscription_id": subscription.pk}),
        "enabled": subscription.active,
        "description": subscription.name[:200],
    }
    task = subscription.periodic_task
    if task is None:
        task = PeriodicTask.objects.filter(name=fields["name"]).first() or PeriodicTask(**fields)
    for key, value in fields.items():
        setattr(task, key, value)
    task.save()
    if subscription.periodic_task_id != task.pk:
        subscription.periodic_task = task
        subscription.save(update_fields=["periodic_task"])


@transaction.atomic
def subscription_save(
    *,
    owner,
    name: str,
    kind: str = ReportKind.QUALITY,
    schedule: str,
    cron: str = "",
    scope: dict | None = None,
    language: str = "en",
    recipients=(),
    skip_if_empty: bool = True,
    active: bool = True,
    subscription: ReportSubscription | None = None,
) -> ReportSubscription:
    """Create (subscription=None) or update a subscription and its beat task in one
    transaction. Recipients default to the owner's address. Only the owner edits it."""
    errors: dict = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("This field is required.")]
    elif len(name) > 200:
        errors["name"] = [_("At most 200 characters.")]
    if kind != ReportKind.QUALITY:
        errors["kind"] = [_("Only the management quality report can be subscribed to.")]
    if schedule not in Schedule.values:
        errors["schedule"] = [_("One of %(values)s.") % {"values": ", ".join(Schedule.values)}]
    cron = " ".join((cron or "").split())
    if schedule == Schedule.CRON:
        try:
            cron_parse(cron)
        except ValueError as error:
            errors["cron"] = [
                _("Not a valid cron expression (minute hour day month weekday): %(error)s") % {"error": error}
            ]
    else:
        cron = ""
    if language not in report_languages():
        errors["language"] = [_("One of %(codes)s.") % {"codes": ", ".join(report_languages())}]
    try:
        scope = report_filters_clean(scope, field="scope")
    except ApplicationError as error:
        errors.update(error.errors)
    try:
        recipients = _recipients_clean(recipients if isinstance(recipients, str) else list(recipients or ()))
    except ApplicationError as error:
        errors.update(error.errors)
    if not errors and not recipients:
        if owner.email:
            recipients = [owner.email]
        else:
            errors["recipients"] = [_("Give at least one e-mail address.")]
    if errors:
        raise ApplicationError(_("The subscription is not valid."), errors=errors)

    values = {
        "name": name,
        "kind": kind,
        "schedule": schedule,
        "cron": cron,
        "scope": scope,
        "language": language,
        "recipients": recipients,
        "skip_if_empty": bool(skip_if_empty),
        "active": bool(active),
    }
    if subscription is None:
        subscription = ReportSubscription.objects.create(owner=owner, **values)
    else:
        subscription = lock_one(ReportSubscription.objects.all(), subscription.pk)
        for key, value in values.items():
            setattr(subscription, key, value)
        subscription.save(update_fields=list(values))
    _periodic_task_sync(subscription)
    return subscription


@transaction.atomic
def subscription_delete(*, subscription: ReportSubscription) -> None:
    """Delete a subscription with its beat task (its archived reports stay)."""
    subscription = lock_one(ReportSubscription.objects.all(), subscription.pk)
    task_id = subscription.periodic_task_id
    subscription.delete()
    if task_id:
        PeriodicTask.objects.filter(pk=task_id).delete()


# --- delivery ---------------------------------------------------------------------------------


def _is_empty(subscription: ReportSubscription, start: dt.date, end: dt.date) -> bool:
    from ..builders import quality

    return quality.quality_report_is_empty(start=start, end=end, filters=dict(subscription.scope or {}))


def _report_for(delivery: SubscriptionDelivery, subscription: ReportSubscription) -> GeneratedReport:
    """The delivery's report: the one of an earlier failed attempt when it was built,
    else a new one built now in this worker (the job already runs in Celery)."""
    report = delivery.report
    if report is None or report.status != ReportStatus.DONE:
        parameters = {
            "start": delivery.period_start.isoformat(),
            "end": delivery.period_end.isoformat(),
            "grain": "month" if subscription.schedule == Schedule.MONTHLY else "week",
            "filters": dict(subscription.scope or {}),
        }
        with transaction.atomic():
            report = report_request(
                kind=subscription.kind,
                parameters=parameters,
                language=subscription.language,
                user=subscription.owner,
                subscription=subscription,
                queue=False,
            )
        report = report_generate(report_id=report.pk)
        delivery.report = report
        delivery.save(update_fields=["report"])
    if report.status != ReportStatus.DONE:
        raise RuntimeError(report.error or "the report could not be generated")
    return report


def _send(subscription: ReportSubscription, delivery: SubscriptionDelivery, report: GeneratedReport) -> None:
    last = delivery.period_end - dt.timedelta(days=1)
    with translation.override(subscription.language):
        context = {
            "subscription": subscription,
            "report": report,
            "start": delivery.period_start,
            "last": last,
            "site_name": _("After-sales Quality"),
        }
        subject = _("%(name)s: %(title)s") % {"name": subscription.name, "title": report.title}
        body = render_to_string("reports/email/subscription.txt", context)
    message = EmailMessage(
        subject=subject.replace("\n", " ")[:250],
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(subscription.recipients),
    )
    filename = f"quality-report-{delivery.period_start:%Y%m%d}-{last:%Y%m%d}.pdf"
    message.attach(filename, report_pdf_bytes(report), "application/pdf")
    message.send(fail_silently=False)


def subscription_deliver(*, subscription_id: int, now: dt.datetime | None = None) -> SubscriptionDelivery | None:
    """Send the report of the period due at `now` once. The delivery row of (subscription,
    period) is unique and locked for the whole attempt, so a second run, or a second
    worker at once, waits and then finds it sent (or skipped) and does nothing. A failed
    attempt is recorded (status failed, the error) and retried by the next run."""
    now = now or timezone.now()
    subscription = ReportSubscription.objects.select_related("owner").filter(pk=subscription_id).first()
    if subscription is None or not subscription.active:
        return None
    start, end = subscription_period(subscription, now=now)
    try:
        with transaction.atomic():
            SubscriptionDelivery.objects.get_or_create(subscription=subscription, period_start=start, period_end=end)
    except IntegrityError:
        pass  # created by the other worker at the same moment; it is locked below
    with transaction.atomic():
        delivery = lock_one(
            SubscriptionDelivery.objects.all(),
            SubscriptionDelivery.objects.get(subscription=subscription, period_start=start, period_end=end).pk,
        )
        if delivery.status in (DeliveryStatus.SENT, DeliveryStatus.SKIPPED):
            return delivery
        delivery.recipients = list(subscription.recipients)
        delivery.error = ""
        try:
            if subscription.skip_if_empty and _is_empty(subscription, start, end):
                delivery.status = DeliveryStatus.SKIPPED
            else:
                report = _report_for(delivery, subscription)
                _send(subscription, delivery, report)
                delivery.status, delivery.sent_at = DeliveryStatus.SENT, timezone.now()
                subscription.last_sent_at = delivery.sent_at
                subscription.save(update_fields=["last_sent_at"])
        except Exception as error:  # noqa: BLE001 (recorded in the log, retried next run)
            logger.exception("subscription %s: delivery of %s..%s failed", subscription_id, start, end)
            delivery.status = DeliveryStatus.FAILED
            delivery.error = f"{type(error).__name__}: {error}"[:4000]
        delivery.save(update_fields=["status", "sent_at", "recipients", "error"])
    return delivery
