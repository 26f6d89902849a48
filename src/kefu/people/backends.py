"""Permissions from roles. Administrators are superusers; managers may use the admin to configure kefu's own
areas (customers, cases, people, the event log, tokens): the services behind every admin save still decide
what each of them may change. Agents and team leads work in the workspace and the API, not in the admin."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

# The apps a manager configures through the admin.
MANAGER_APPS = frozenset({"core", "people", "customers", "cases", "search"})


class RoleBackend(ModelBackend):
    @staticmethod
    def _manager(user_obj) -> bool:
        return bool(user_obj.is_active and getattr(user_obj, "role", None) == "manager")

    def has_perm(self, user_obj, perm, obj=None):
        if self._manager(user_obj) and perm.partition(".")[0] in MANAGER_APPS:
            return True
        return super().has_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj, app_label):
        if self._manager(user_obj) and app_label in MANAGER_APPS:
            return True
        return super().has_module_perms(user_obj, app_label)
