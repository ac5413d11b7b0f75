"""Reads of the reports app: the archive scoped to the user, subscriptions of their owner."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from catalog.roles import ADMIN, MANAGER, user_roles

from .models import GeneratedReport, ReportStatus, ReportSubscription, SubscriptionDelivery

ADD_PERM = "reports.add_generatedreport"
VIEW_PERM = "reports.view_generatedreport"
SUBSCRIBE_PERM = "reports.add_reportsubscription"


def reports_see_all(user) -> bool:
    """Managers and admins read the whole archive; everybody else their own reports."""
    return bool(user_roles(user) & {MANAGER, ADMIN})


def reports_generatable(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(ADD_PERM))


def subscriptions_allowed(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(SUBSCRIBE_PERM))


def reports_for_user(user) -> QuerySet[GeneratedReport]:
    """The archive the user may read (and download from); out of scope is a 404."""
    reports = GeneratedReport.objects.select_related("requested_by", "subscription")
    if not getattr(user, "is_authenticated", False):
        return reports.none()
    if reports_see_all(user):
        return reports
    return reports.filter(requested_by=user)


def report_list(*, user, kind: str | None = None, mine: bool = False) -> QuerySet[GeneratedReport]:
    reports = reports_for_user(user)
    if kind:
        reports = reports.filter(kind=kind)
    if mine:
        reports = reports.filter(requested_by=user)
    return reports.order_by("-requested_at", "-id")


def report_get(*, user, pk) -> GeneratedReport:
    return get_object_or_404(reports_for_user(user), pk=pk)


def report_downloadable(report: GeneratedReport) -> bool:
    return report.status == ReportStatus.DONE and bool(report.file)


def subscriptions_for_user(user) -> QuerySet[ReportSubscription]:
    """A user's own subscriptions ("My subscriptions"); admins manage others' in the admin."""
    if not getattr(user, "is_authenticated", False):
        return ReportSubscription.objects.none()
    return ReportSubscription.objects.filter(owner=user).select_related("owner", "periodic_task").order_by("name", "id")


def subscription_get(*, user, pk) -> ReportSubscription:
    return get_object_or_404(subscriptions_for_user(user), pk=pk)


def subscription_deliveries(subscription: ReportSubscription, *, limit: int | None = 50) -> QuerySet:
    deliveries = SubscriptionDelivery.objects.filter(subscription=subscription).select_related("report")
    deliveries = deliveries.order_by("-period_start", "-id")
    return deliveries[:limit] if limit else deliveries
