#!/var/www/MISP/venv/bin/python
"""Independent view of MISP for the integration playbooks: PyMISP, not the modules' client.

Usage: misp-it-check KIND [REF] -> one JSON object on stdout, {"exists": bool, ...}
(org, user, feed and setting take several REFs: {"items": [...]}).
KIND: org NAME | user EMAIL | authkeys EMAIL COMMENT | sharing_group NAME | server URL | feed URL |
taxonomy NAMESPACE | taxonomy_delete NAMESPACE | setting NAME | news TITLE | version | key_works KEY
News has no JSON listing in MISP (no PyMISP wrapper either): read from the database instead.
"""

import functools
import json
import subprocess
import sys

sys.modules["lief"] = None  # PyMISP's file tools are not needed; lief alone takes seconds to import
import pymisp  # noqa: E402

URL = "https://misp"
CA = "/etc/ssl/certs/misp.crt"


@functools.cache
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


def cleanup(misp):
    """Delete the integration playbooks' objects (names start with IT / it-), so a re-run starts clean."""
    gone = []
    for item in errors(misp.servers(pythonify=False)) or []:
        if item["Server"]["name"].startswith("IT "):
            errors(misp.direct_call(f"servers/delete/{item['Server']['id']}", {}))
            gone.append(item["Server"]["name"])
    for item in errors(misp.sharing_groups(pythonify=False)) or []:
        if item["SharingGroup"]["name"].startswith("IT "):
            errors(misp.direct_call(f"sharing_groups/delete/{item['SharingGroup']['id']}", {}))
            gone.append(item["SharingGroup"]["name"])
    for item in errors(misp.users(pythonify=False)) or []:
        if item["User"]["email"].startswith("it-"):
            errors(misp.delete_user(item["User"]["id"]))
            gone.append(item["User"]["email"])
    for item in errors(misp.organisations(scope="all", pythonify=False)) or []:
        if item["Organisation"]["name"].startswith("IT "):
            errors(misp.delete_organisation(item["Organisation"]["id"]))
            gone.append(item["Organisation"]["name"])
    for item in errors(misp.feeds(pythonify=False)) or []:
        if "feeds.example.test" in item["Feed"]["url"]:
            errors(misp.delete_feed(item["Feed"]["id"]))
            gone.append(item["Feed"]["url"])
    subprocess.run(["mysql", "misp", "-e", "DELETE FROM news WHERE title LIKE 'IT %'"], check=True)
    return {"exists": False, "deleted": gone}


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
    if kind == "cleanup":  # test setup: remove what an interrupted earlier run left behind
        return cleanup(misp)
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
    if len(sys.argv) > 3 and sys.argv[1] in ("org", "user", "feed", "setting"):
        # several objects of one kind at once: {"items": [one answer per ref]}
        print(json.dumps({"items": [main(sys.argv[:2] + [ref]) for ref in sys.argv[2:]]}))
    else:
        print(json.dumps(main(sys.argv)))
