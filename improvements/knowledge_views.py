"""The knowledge base page (/improvements/knowledge/): closed issues searchable by
failure mode, component, product and keywords, each with its verified root causes,
actions and verified effect. Thin: the selector reads, scoped to the user."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from catalog.models import Component, ProductLine, ProductModel
from quality.models import FailureMode

from .knowledge import knowledge_search
from .templatetags.verification_ui import knowledge_decorate

READ_PERM = "improvements.view_improvementissue"
PAGE_SIZE = 20
FILTERS = ("failure_mode", "component", "product_model", "product_line")


@login_required
@require_GET
def knowledge(request):
    if not request.user.has_perm(READ_PERM):
        raise PermissionDenied
    params = request.GET
    chosen = {name: (params.get(name) or "").strip()[:64] for name in FILTERS}
    q = (params.get("q") or "").strip()[:200]
    issues = knowledge_search(q=q, user=request.user, **{k: v or None for k, v in chosen.items()})
    page = Paginator(issues, PAGE_SIZE).get_page(params.get("page"))
    knowledge_decorate(page.object_list)
    query = urlencode({k: v for k, v in {"q": q, **chosen}.items() if v})
    context = {
        "page": page,
        "q": q,
        "chosen": chosen,
        "query": query,
        "options": {
            "failure_mode": FailureMode.objects.order_by("code").values_list("code", "name_en"),
            "component": Component.objects.order_by("code").values_list("code", "name"),
            "product_model": ProductModel.objects.order_by("code").values_list("code", "name"),
            "product_line": ProductLine.objects.order_by("code").values_list("code", "name"),
        },
    }
    return render(request, "improvements/knowledge.html", context)
