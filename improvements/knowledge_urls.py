"""Pages of the improvement loop: the knowledge base."""

from django.urls import path

from . import knowledge_views

urlpatterns: list = [
    path("knowledge/", knowledge_views.knowledge, name="knowledge"),
]
