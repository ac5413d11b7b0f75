"""Roles are auth groups. Each app declares the model permissions its roles need
(in its AppConfig.ready) and one post_migrate handler keeps the groups in step, so no
app has to import an app above it to grant permissions."""

from collections import defaultdict

AGENT = "agent"
SUPERVISOR = "supervisor"
QUALITY_ENGINEER = "quality_engineer"
COMMITTEE_MEMBER = "committee_member"
MANAGER = "manager"
ADMIN = "admin"
ROLES = (AGENT, SUPERVISOR, QUALITY_ENGINEER, COMMITTEE_MEMBER, MANAGER, ADMIN)
# Roles that read every record of the service operation; agents and supervisors are
# limited to their teams.
GLOBAL_READ_ROLES = frozenset({QUALITY_ENGINEER, COMMITTEE_MEMBER, MANAGER, ADMIN})

_REGISTRY: dict[str, set[tuple[str, str]]] = defaultdict(set)


def register_role_permissions(mapping: dict[str, list[str]], *, app_label: str) -> None:
    for role, codenames in mapping.items():
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        _REGISTRY[role].update((app_label, codename) for codename in codenames)


def role_permissions() -> dict[str, set[tuple[str, str]]]:
    return {role: set(_REGISTRY[role]) for role in ROLES}


def roles_sync() -> None:
    """Create the role groups and grant exactly the registered permissions (admin: all)."""
    from django.contrib.auth.models import Group, Permission

    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        if role == ADMIN:
            perms = Permission.objects.all()
        else:
            wanted = _REGISTRY[role]
            perms = [
                p
                for p in Permission.objects.select_related("content_type").filter(
                    content_type__app_label__in={app for app, _ in wanted}
                )
                if (p.content_type.app_label, p.codename) in wanted
            ]
        group.permissions.set(perms)


def roles_sync_handler(sender, **kwargs) -> None:
    # post_migrate fires once per app; permissions of later apps appear as it goes, and
    # the last call sees them all. Syncing is idempotent, so every call may run it.
    roles_sync()


def user_roles(user) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_role_cache", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached.add(ADMIN)
        user._role_cache = cached
    return cached


def user_has_global_read(user) -> bool:
    return bool(user_roles(user) & GLOBAL_READ_ROLES)
