"""Notifications: in-app notices (the bell), their e-mails and outbound webhooks.

Any app sends through `notification_send`; delivery happens later in
`notifications_deliver` (the beat task every minute, and straight after the commit of
an urgent send), never inside the caller's transaction.

Invariants:
- one Notification per recipient and dedupe key (unique `dedupe_key` = "<key>:<user id>"),
  one WebhookDelivery per webhook and event (unique webhook + dedupe_key); a repeated
  or concurrent send of the same key is a no-op and never breaks the caller's
  transaction (each insert runs in its own savepoint / ON CONFLICT DO NOTHING);
- an e-mail or webhook is claimed (leased) in a short transaction before it is sent, so
  two deliver runs never send it twice; a run killed after claiming leaves the lease to
  expire and a later run retries it.
"""

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from catalog.exceptions import ApplicationError
from catalog.models import User

from .. import calendars
from ..models import DeliveryStatus, EmailStatus, Notification, Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

# A claimed e-mail or webhook delivery belongs to its run for this long; a run that dies
# after claiming loses the item only until the lease expires.
CLAIM_LEASE = timedelta(minutes=10)
# Claim in small batches so a batch is sent well within the lease (5 s per webhook at worst).
EMAIL_BATCH = 50
WEBHOOK_BATCH = 20
MAX_BATCHES = 50
WEBHOOK_TIMEOUT = 5
WEBHOOK_BACKOFF = timedelta(minutes=1)
_KEY_LENGTH = Notification._meta.get_field("dedupe_key").max_length
_TITLE_LENGTH = Notification._meta.get_field("title").max_length


def _render(text, params: dict | None) -> str:
    # str() resolves a lazy translation in the language active right now.
    text = str(text or "")
    return text % params if params else text


def _stored_key(key: str) -> str:
    # A key too long for the column is replaced by its digest (still unique, still stable).
    if len(key) <= _KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def absolute_url(url: str) -> str:
    """`url` as an absolute address: a path is prefixed with SITE_URL."""
    if not url or urlsplit(url).scheme:
        return url
    return f"{settings.SITE_URL}/{url.lstrip('/')}"


def _unique_recipients(recipients: Iterable) -> list[User]:
    seen, users = set(), []
    for user in recipients or ():
        if user is None or not user.is_active or user.pk in seen:
            continue
        seen.add(user.pk)
        users.append(user)
    return users


def _insert_once(row: Notification) -> bool:
    """Insert `row` unless its dedupe key exists. The savepoint keeps the caller's
    transaction usable after a unique violation; on PostgreSQL a concurrent insert of
    the same key waits for the other transaction and then conflicts (or succeeds when
    that one rolled back), so exactly one row survives."""
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        return False
    return True


@transaction.atomic
def notification_send(
    *,
    recipients: Iterable,
    kind: str,
    title,
    body="",
    params: dict | None = None,
    url: str = "",
    payload: dict | None = None,
    urgent: bool = False,
    dedupe_key: str | None = None,
    email: bool = True,
    at: datetime | None = None,
) -> list[Notification]:
    """Notify `recipients` (users; None, inactive users and repeats are skipped) and the
    active webhooks subscribed to `kind`. Returns the notifications created by this call
    (a repeated dedupe_key creates none).

    title/body may be lazy translations; each recipient gets them rendered in their own
    language as `str(text) % params`. A non-urgent notice is delivered (shown and
    e-mailed) from the recipient's next working time; an urgent one at once, and the
    deliver task is queued after the commit so it does not wait for the next beat."""
    at = at or timezone.now()
    # Stored as JSON and posted to webhooks: dates, decimals and UUIDs become strings now.
    payload = json.loads(json.dumps(payload or {}, cls=DjangoJSONEncoder))
    clocks: dict = {}
    created: list[Notification] = []
    rows: list[Notification] = []
    for user in _unique_recipients(recipients):
        with translation.override(user.language or settings.LANGUAGE_CODE):
            rendered_title = _render(title, params)[:_TITLE_LENGTH]
            rendered_body = _render(body, params)
        if urgent:
            deliver_after = at
        else:
            calendar = calendars.user_calendar(user)
            key = calendar.pk if calendar is not None else None
            if key not in clocks:
                clocks[key] = calendars.calendar_clock(calendar)
            deliver_after = clocks[key].next_working(at)
        rows.append(
            Notification(
                recipient=user,
                kind=kind,
                title=rendered_title,
                body=rendered_body,
                url=url,
                payload=payload,
                urgent=urgent,
                dedupe_key=_stored_key(f"{dedupe_key}:{user.pk}") if dedupe_key else None,
                created_at=at,
                deliver_after=deliver_after,
                email_status=EmailStatus.PENDING if email and user.email else EmailStatus.NONE,
            )
        )
    if dedupe_key is None:
        created = Notification.objects.bulk_create(rows)
    elif rows:
        # The common repeat (a sweep meeting the same ticket again) costs one query.
        existing = set(
            Notification.objects.filter(dedupe_key__in=[row.dedupe_key for row in rows]).values_list(
                "dedupe_key", flat=True
            )
        )
        created = [row for row in rows if row.dedupe_key not in existing and _insert_once(row)]

    queued = _webhook_deliveries_create(
        kind=kind, event_key=dedupe_key, title=title, body=body, params=params, url=url, payload=payload, at=at
    )
    if urgent and (created or queued):
        _deliver_after_commit()
    return created


def _webhook_deliveries_create(*, kind, event_key, title, body, params, url, payload, at) -> int:
    webhooks = [hook for hook in Webhook.objects.filter(active=True) if not hook.kinds or kind in hook.kinds]
    if not webhooks:
        return 0
    event_id = _stored_key(event_key) if event_key else uuid.uuid4().hex
    # Integrations get one language: English, whatever the site's default.
    with translation.override("en"):
        document = {
            "event": kind,
            "id": event_id,
            "title": _render(title, params),
            "body": _render(body, params),
            "url": absolute_url(url),
            "payload": payload,
            "created_at": at.isoformat(),
        }
    deliveries = [
        WebhookDelivery(
            webhook=hook, kind=kind, payload=document, dedupe_key=event_id, next_attempt_at=at, created_at=at
        )
        for hook in webhooks
    ]
    # ON CONFLICT DO NOTHING: a repeated event is skipped without aborting the transaction.
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    return len(deliveries)


def _deliver_after_commit() -> None:
    # One deliver run per transaction is enough: a sweep that escalates 200 tickets
    # queues one task, not 200. (Should the savepoint that registered it roll back,
    # the beat run a minute later delivers instead.)
    if any(entry[1] is _deliver_soon for entry in connection.run_on_commit):
        return
    transaction.on_commit(_deliver_soon)


def _deliver_soon() -> None:
    """Queue one deliver run (after the commit). Eager mode runs it right here; a broker
    that cannot be reached only costs the wait for the next beat tick."""
    from ..tasks import notifications_deliver_task

    try:
        notifications_deliver_task.delay()
    except Exception:  # noqa: BLE001 - the beat task delivers it anyway
        logger.warning("could not queue notifications_deliver_task; the next beat run delivers", exc_info=True)


# --- in-app: read marks ---------------------------------------------------------------


def _delivered(user, now: datetime):
    return Notification.objects.filter(recipient=user, deliver_after__lte=now)


@transaction.atomic
def notification_mark_read(*, user, notification_id: int, now: datetime | None = None) -> Notification:
    """Mark one of the user's delivered notifications read (again: a no-op). Raises
    Notification.DoesNotExist for anyone else's or a not yet delivered one. No lock:
    the update only fills read_at when it is empty, so racing marks agree."""
    now = now or timezone.now()
    notification = _delivered(user, now).get(pk=notification_id)
    if notification.read_at is None:
        updated = Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
        notification.read_at = now if updated else Notification.objects.get(pk=notification.pk).read_at
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user, now: datetime | None = None) -> int:
    """Mark every delivered unread notification of the user read; returns how many.
    Notices still waiting for working hours stay unread."""
    now = now or timezone.now()
    return _delivered(user, now).filter(read_at__isnull=True).update(read_at=now)


# --- webhooks (admin) -----------------------------------------------------------------


@transaction.atomic
def webhook_create(*, name: str, url: str, secret: str, kinds: list[str] | None = None, active: bool = True) -> Webhook:
    """A new outbound endpoint. Only http(s) addresses: the sender uses urllib, which would
    also open file: and ftp: addresses."""
    if urlsplit(url).scheme not in {"http", "https"}:
        raise ApplicationError(
            _("The address must start with http:// or https://."), errors={"url": [_("not http(s)")]}
        )
    if len(secret) < 16:
        raise ApplicationError(_("The secret must have at least 16 characters."), errors={"secret": [_("too short")]})
    return Webhook.objects.create(name=name, url=url, secret=secret, kinds=list(kinds or []), active=active)


@transaction.atomic
def webhook_deliveries_retry(*, delivery_ids: Iterable[int], now: datetime | None = None) -> int:
    """Send failed (or waiting) deliveries again on the next run, with a fresh attempt count."""
    now = now or timezone.now()
    return (
        WebhookDelivery.objects.filter(pk__in=list(delivery_ids))
        .exclude(status=DeliveryStatus.DELIVERED)
        .update(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, last_error="")
    )


# --- delivery -------------------------------------------------------------------------


def _locking(queryset):
    """SKIP LOCKED where the database has it (PostgreSQL): concurrent runs take disjoint
    rows. SQLite has no row locks; its IMMEDIATE transactions serialise the claims."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset


def _emails_claim(now: datetime) -> list[Notification]:
    # emailed_at on a pending row is the claim time; the row is due again once the lease
    # has passed (a run died, or the backend failed).
    with transaction.atomic():
        rows = list(
            _locking(
                Notification.objects.filter(email_status=EmailStatus.PENDING, deliver_after__lte=now)
                .filter(Q(emailed_at__isnull=True) | Q(emailed_at__lte=now - CLAIM_LEASE))
                .select_related("recipient")
                .order_by("deliver_after", "id")
            )[:EMAIL_BATCH]
        )
        if rows:
            Notification.objects.filter(pk__in=[row.pk for row in rows]).update(emailed_at=now)
    return rows


def _email_message(notification: Notification, connection_) -> EmailMultiAlternatives:
    user = notification.recipient
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {"notification": notification, "user": user, "link": absolute_url(notification.url)}
        text = render_to_string("emails/notification.txt", context)
        html = render_to_string("emails/notification.html", context)
    message = EmailMultiAlternatives(subject=notification.title, body=text, to=[user.email], connection=connection_)
    message.attach_alternative(html, "text/html")
    return message


def _emails_send(now: datetime) -> tuple[int, int]:
    sent = failed = 0
    max_attempts = settings.WEBHOOK_MAX_ATTEMPTS
    mail = get_connection()
    try:
        for _batch in range(MAX_BATCHES):
            rows = _emails_claim(now)
            if not rows:
                break
            for row in rows:
                if not row.recipient.email or not row.recipient.is_active:
                    # The address was removed (or the user deactivated) since the send.
                    Notification.objects.filter(pk=row.pk).update(email_status=EmailStatus.NONE)
                    continue
                attempts = row.email_attempts + 1
                try:
                    _email_message(row, mail).send()
                except Exception:  # noqa: BLE001 - any backend error: retry after the lease
                    logger.warning("e-mail of notification %s failed", row.pk, exc_info=True)
                    status = EmailStatus.FAILED if attempts >= max_attempts else EmailStatus.PENDING
                    Notification.objects.filter(pk=row.pk).update(email_attempts=attempts, email_status=status)
                    failed += 1
                    continue
                Notification.objects.filter(pk=row.pk).update(
                    email_attempts=attempts, email_status=EmailStatus.SENT, emailed_at=timezone.now()
                )
                sent += 1
    finally:
        mail.close()
    return sent, failed


def _webhooks_claim(now: datetime) -> list[WebhookDelivery]:
    with transaction.atomic():
        rows = list(
            _locking(
                WebhookDelivery.objects.filter(
                    status=DeliveryStatus.PENDING, next_attempt_at__lte=now, webhook__active=True
                )
                .select_related("webhook")
                .order_by("next_attempt_at", "id")
            )[:WEBHOOK_BATCH]
        )
        if rows:
            WebhookDelivery.objects.filter(pk__in=[row.pk for row in rows]).update(next_attempt_at=now + CLAIM_LEASE)
    return rows


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """The exact bytes that are posted and signed."""
    return json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _webhook_post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST one delivery; returns (HTTP status or None, error text ('' on 2xx))."""
    hook = delivery.webhook
    if urlsplit(hook.url).scheme not in {"http", "https"}:
        return None, "not an http(s) address"
    body = webhook_body(delivery)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        hook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "aftersales-webhooks/1",
            "X-Aftersales-Event": delivery.kind,
            "X-Aftersales-Delivery": str(delivery.pk),
            "X-Aftersales-Signature": webhook_signature(hook.secret, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:  # noqa: S310 - http(s) only
            code = response.status
    except urllib.error.HTTPError as error:
        return error.code, f"HTTP {error.code} {error.reason}"[:500]
    except Exception as error:  # noqa: BLE001 - refused, timed out, DNS, TLS: all retried
        return None, f"{type(error).__name__}: {error}"[:500]
    if 200 <= code < 300:
        return code, ""
    return code, f"HTTP {code}"


def _webhooks_send(now: datetime) -> tuple[int, int, int]:
    delivered = retried = failed = 0
    max_attempts = settings.WEBHOOK_MAX_ATTEMPTS
    for _batch in range(MAX_BATCHES):
        rows = _webhooks_claim(now)
        if not rows:
            break
        for row in rows:
            code, error = _webhook_post(row)
            attempts = row.attempts + 1
            if not error:
                WebhookDelivery.objects.filter(pk=row.pk).update(
                    status=DeliveryStatus.DELIVERED,
                    attempts=attempts,
                    last_status_code=code,
                    last_error="",
                    delivered_at=timezone.now(),
                )
                delivered += 1
            elif attempts >= max_attempts:
                WebhookDelivery.objects.filter(pk=row.pk).update(
                    status=DeliveryStatus.FAILED, attempts=attempts, last_status_code=code, last_error=error
                )
                failed += 1
            else:
                # 1, 2, 4, 8 ... minutes after this attempt.
                WebhookDelivery.objects.filter(pk=row.pk).update(
                    attempts=attempts,
                    last_status_code=code,
                    last_error=error,
                    next_attempt_at=now + WEBHOOK_BACKOFF * 2 ** (attempts - 1),
                )
                retried += 1
    return delivered, retried, failed


def notifications_deliver(*, now: datetime | None = None) -> dict:
    """Send the due e-mails (deliver_after <= now, pending) and webhook deliveries
    (pending, next_attempt_at <= now). Idempotent and safe to run concurrently: every
    item is claimed before it is sent (see the module docstring). Not atomic as a whole:
    each claim and each result is its own short transaction, and nothing is sent while a
    transaction is open."""
    now = now or timezone.now()
    emails_sent, emails_failed = _emails_send(now)
    delivered, retried, failed = _webhooks_send(now)
    return {
        "emails_sent": emails_sent,
        "emails_failed": emails_failed,
        "webhooks_delivered": delivered,
        "webhooks_retried": retried,
        "webhooks_failed": failed,
    }
