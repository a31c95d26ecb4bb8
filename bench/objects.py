#!/usr/bin/env python3
"""Writes the extra-vars file of bench/run's API-call measurement: COUNT each of organisations,
users, sharing groups and custom feeds, in the variables of roles misp_community and misp_feeds
(the same lists feed bench/playbooks/api-list-mode.yml).

usage: bench/objects.py COUNT HOST_ORG_NAME OUTPUT.json
"""

from __future__ import annotations

import json
import sys
import uuid

NAMESPACE = uuid.UUID("0f6a2d1e-7b3c-4e59-9a8d-5c4b3a291807")


def objects(count: int, host_org: str) -> dict:
    orgs, users, groups, feeds = [], [], [], []
    for i in range(1, count + 1):
        org = f"Bench Org {i:03d}"
        orgs.append({"name": org, "uuid": str(uuid.uuid5(NAMESPACE, f"org-{i}")), "local": True, "sector": "Bench"})
        users.append({"email": f"bench-user-{i:03d}@bench.example", "organisation": org, "role": "User"})
        groups.append(
            {
                "uuid": str(uuid.uuid5(NAMESPACE, f"sg-{i}")),
                "name": f"Bench sharing group {i:03d}",
                "releasability": "Benchmark data",
                "roaming": False,
                "organisations": [{"name": host_org, "extend": True}, {"name": org}],
                "servers": [{"local": True}],
            }
        )
        feeds.append(
            {
                "url": f"https://feeds.bench.invalid/feed-{i:03d}.txt",
                "name": f"Bench feed {i:03d}",
                "provider": "Bench",
                "source_format": "freetext",
                "enabled": False,
                "caching_enabled": False,
                "distribution": 0,
            }
        )
    return {
        "bench_objects": count,
        "misp_community_existing_organisations": [host_org],
        "misp_community_organisations": orgs,
        "misp_community_users": users,
        "misp_community_sharing_groups": groups,
        "misp_feeds_custom": feeds,
    }


def main() -> None:
    count, host_org, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(out, "w", encoding="utf-8") as f:
        json.dump(objects(count, host_org), f, indent=1)


if __name__ == "__main__":
    main()
