#!/var/www/MISP/venv/bin/python
"""Independent view of MISP for the integration playbooks: PyMISP, not the modules' client.

Usage: misp-it-check KIND [REF] -> one JSON object on stdout, {"exists": bool, ...}.
KIND: org NAME | user EMAIL | authkeys EMAIL COMMENT | sharing_group NAME | server URL | feed URL |
taxonomy NAMESPACE | taxonomy_delete NAMESPACE | setting NAME | news TITLE | version | key_works KEY
News has no JSON listing in MISP (no PyMISP wrapper either): read from the database instead.
"""

import json
import subprocess
import sys

import pymisp

URL = "https://misp"
CA = "/etc/ssl/certs/misp.crt"


def connect(key=None):
    if key is None:
        with open("/root/.misp/admin_api_key", encoding="utf-8") as handle:
            key = handle.read().strip()
    return pymisp.PyMISP(URL, key, ssl=CA, timeout=60)


def errors(resp):
    if isinstance(resp, dict) and "errors" in resp:
        raise SystemExit(json.dumps({"error": str(resp["errors"])}))
    return resp


def pick(items, model, key, ref):
    for item in errors(items) or []:
        obj = item.get(model, item)
        if str(obj.get(key, "")).lower().rstrip("/") == str(ref).lower().rstrip("/"):
            return item
    return None


def main(argv):
    kind, refs = argv[1], argv[2:]
    if kind == "key_works":
        try:
            me = connect(refs[0]).get_user("me", pythonify=False)
            return {"exists": "User" in me, "email": me.get("User", {}).get("email")}
        except pymisp.PyMISPError as e:
            return {"exists": False, "error": str(e)}
    misp = connect()
    if kind == "org":
        item = pick(misp.organisations(scope="all", pythonify=False), "Organisation", "name", refs[0])
        return {"exists": item is not None, "org": (item or {}).get("Organisation")}
    if kind == "user":
        item = pick(misp.users(pythonify=False), "User", "email", refs[0])
        if item is None:
            return {"exists": False}
        settings = {
            s["UserSetting"]["setting"]: s["UserSetting"]["value"]
            for s in errors(misp.user_settings(pythonify=False)) or []
            if str(s["UserSetting"]["user_id"]) == str(item["User"]["id"])
        }
        user = {k: v for k, v in item["User"].items() if k not in ("password", "authkey")}
        return {
            "exists": True,
            "user": user,
            "org": item.get("Organisation", {}).get("name"),
            "role": item.get("Role", {}).get("name"),
            "settings": settings,
        }
    if kind == "authkeys":
        keys = [
            k["AuthKey"]
            for k in errors(misp.direct_call("auth_keys/index")) or []
            if str(k.get("User", {}).get("email", "")).lower() == refs[0].lower() and k["AuthKey"]["comment"] == refs[1]
        ]
        return {"exists": bool(keys), "count": len(keys), "keys": keys}
    if kind == "sharing_group":
        item = pick(misp.sharing_groups(pythonify=False), "SharingGroup", "name", refs[0])
        if item is None:
            return {"exists": False}
        return {
            "exists": True,
            "sharing_group": item["SharingGroup"],
            "orgs": sorted(o["Organisation"]["name"] for o in item.get("SharingGroupOrg") or []),
            "extend": {o["Organisation"]["name"]: o["extend"] for o in item.get("SharingGroupOrg") or []},
            "servers": sorted(int(s["server_id"]) for s in item.get("SharingGroupServer") or []),
        }
    if kind == "server":
        item = pick(misp.servers(pythonify=False), "Server", "url", refs[0])
        if item is None:
            return {"exists": False}
        server = {k: v for k, v in item["Server"].items() if k != "authkey"}
        return {"exists": True, "server": server, "remote_org": item.get("RemoteOrg", {}).get("name")}
    if kind == "feed":
        item = pick(misp.feeds(pythonify=False), "Feed", "url", refs[0])
        return {"exists": item is not None, "feed": (item or {}).get("Feed")}
    if kind == "taxonomy":
        item = pick(misp.taxonomies(pythonify=False), "Taxonomy", "namespace", refs[0])
        if item is None:
            return {"exists": False}
        tags = [t for t in errors(misp.tags(pythonify=False)) if t["name"].startswith(refs[0] + ":")]
        return {
            "exists": True,
            "taxonomy": item["Taxonomy"],
            "total_count": item.get("total_count"),
            "current_count": item.get("current_count"),
            "tags": len(tags),
        }
    if kind == "taxonomy_delete":  # test setup: start from a MISP without the taxonomy
        item = pick(misp.taxonomies(pythonify=False), "Taxonomy", "namespace", refs[0])
        if item is not None:
            errors(misp.direct_call(f"taxonomies/delete/{item['Taxonomy']['id']}", {}))
        return {"exists": False, "deleted": item is not None}
    if kind == "setting":
        resp = errors(misp.get_server_setting(refs[0]))
        return {"exists": True, "value": resp.get("value"), "setting": refs[0]}
    if kind == "news":
        title = refs[0].replace("\\", "\\\\").replace("'", "''")
        query = f"SELECT id, message FROM news WHERE title = '{title}'"
        out = subprocess.run(
            ["mysql", "-N", "-B", "misp", "-e", query],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows = [line.split("\t", 1) for line in out.splitlines() if line]
        return {"exists": bool(rows), "count": len(rows), "messages": [r[1] for r in rows]}
    if kind == "version":
        return {"exists": True, **errors(misp.misp_instance_version)}
    raise SystemExit(f"unknown kind {kind}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv)))
