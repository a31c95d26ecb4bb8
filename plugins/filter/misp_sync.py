# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of role misp_sync: the link plan and its messages (logic in module_utils/misp_sync.py).

- ``links | mispops.misp.misp_sync_plan(local, peers, inventory_hosts, secrets_dir, user_domain, key_comment_prefix)``
- ``plan | mispops.misp.misp_sync_plan_errors``
- ``plan_item | mispops.misp.misp_sync_failure_message(connection)``
"""

from __future__ import annotations

from ansible_collections.mispops.misp.plugins.module_utils.misp_sync import (
    link_failure_message,
    plan_errors,
    plan_links,
)


class FilterModule:
    def filters(self):
        return {
            "misp_sync_plan": plan_links,
            "misp_sync_plan_errors": plan_errors,
            "misp_sync_failure_message": link_failure_message,
        }
