#!/usr/bin/python
# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: misp_news
short_description: Publish MISP news items, idempotent by title
version_added: 0.1.0
description:
  - Ensures that a news item with O(title) exists with O(text), or that none exists; or does so
    for a list of items with O(items) (list mode), in one task.
  - MISP's news pages have no JSON form (C(NewsController) only renders HTML and answers
    add/edit with a redirect). The module therefore reads the admin list
    C(GET /admin/news/index/limit:9999) once, authenticated by API key, as HTML
    (header C(Accept) set to C(text/html, application/xml), which MISP treats as an API request
    yet renders as the normal page), and takes id, title and message from its table cells.
    That list is read once per run, whatever the number of items.
  - "Writes with C(POST /news/add) and C(POST /news/edit/<id>) (body C({\"News\": {...}}); MISP
    answers 302 when it saved) and deletes with C(POST /news/delete/<id>)."
  - Editing keeps the item's creation date, so users are not sent to the news page again;
    delete and re-create an item to make everyone read it once more.
author:
  - mispops contributors (!UNKNOWN)
extends_documentation_fragment:
  - mispops.misp.misp
  - mispops.misp.misp.writes
attributes:
  diff_mode:
    description: Shows title and message before and after.
    support: full
  idempotent:
    description: A second run with the same title and message reports no change.
    support: full
options:
  items:
    description:
      - List mode. Each element describes one news item with the same keys as the single-item
        options (O(title), O(text), O(anonymise), O(state)); they are applied in list order.
      - Mutually exclusive with those single-item options. A title may be listed only once.
      - Elements are checked first; when one fails, the elements already applied stay applied and
        the failure lists their results.
    type: list
    elements: dict
    suboptions:
      title:
        description: See O(title).
        type: str
        required: true
      text:
        description: See O(text).
        type: str
      anonymise:
        description: See O(anonymise).
        type: bool
        default: false
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
        default: present
  title:
    description:
      - Title of the news item; its identity (MISP does not enforce unique titles).
      - Required unless O(items) is given.
    type: str
  text:
    description:
      - Text of the item (Markdown), MISP's C(message) field. Required when O(state=present).
      - Named C(text) because C(message) is reserved by Ansible for module options.
    type: str
  anonymise:
    description:
      - Publish without author (C(user_id=0)). Used only when the item is created.
    type: bool
    default: false
  state:
    description: V(absent) deletes every item with O(title).
    type: str
    choices: [present, absent]
    default: present
notes:
  - Site admin only (MISP ACL).
  - Leading and trailing white space and CR/LF line ends are ignored when comparing messages.
"""

EXAMPLES = r"""
- name: Announce the maintenance window
  mispops.misp.misp_news:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    title: Maintenance on Saturday
    text: |
      MISP will be **unavailable** on Saturday 08:00-10:00 UTC.

- name: Several items in one task (one list read when nothing changes)
  mispops.misp.misp_news:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    items:
      - title: Welcome to the community MISP
        text: Read the sharing rules first.
      - title: Maintenance on Saturday
        state: absent

- name: Withdraw it
  mispops.misp.misp_news:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    title: Maintenance on Saturday
    state: absent
"""

RETURN = r"""
news:
  description: The news item after the run (C(id) is missing for an item just created).
  returned: when state is present, single-item mode
  type: dict
  sample: {"id": "4", "title": "Maintenance on Saturday", "message": "MISP will be unavailable"}
results:
  description: One result per element of O(items), in list order, each with C(title), C(changed), C(diff) and C(news).
  returned: list mode
  type: list
  elements: dict
  sample: [{"title": "Maintenance on Saturday", "changed": false, "diff": {"before": {}, "after": {}},
            "news": {"id": "4", "title": "Maintenance on Saturday", "message": "MISP will be unavailable"}}]
diff:
  description:
    - Title and message before and after.
    - In list mode only the changed items, keyed by title.
  returned: always
  type: dict
api_calls:
  description: Number of HTTP requests made to MISP.
  returned: always
  type: int
  sample: 1
"""

from html.parser import HTMLParser

from ansible_collections.mispops.misp.plugins.module_utils.misp_module import (
    MispManager,
    list_argument_spec,
    list_mode_rules,
    run_module,
)

# The options of one news item: top-level options (single mode) and elements of items.
ITEM_SPEC = dict(
    title=dict(type="str", required=True),
    text=dict(type="str"),
    anonymise=dict(type="bool", default=False),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)
ARGUMENT_SPEC = list_argument_spec("items", ITEM_SPEC)
# CakePHP admin routing: the admin_index action answers at /admin/news/index; /news/admin_index is a
# 404 (checked against MISP 2.5.1).
LIST_PATH = "/admin/news/index/limit:9999"
# Equal-weight HTML + XML: MISP's IndexFilter::isRest() is true (isXml), so the API key is
# accepted, while CakePHP's RequestHandler keeps the HTML view because html ranks first.
HTML_ACCEPT = "text/html, application/xml"
CELLS = {"News.id": "id", "News.title": "title", "News.message": "message", "User.email": "author"}


class NewsTableParser(HTMLParser):
    """Collects the News.* cells of the admin index table, one dict per <tr>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows = []
        self._row = None
        self._cell = None
        self._depth = 0

    def _flush(self):
        if self._row is not None and "id" in self._row and "title" in self._row:
            self.rows.append(self._row)
        self._row = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            # MISP 2.5.1's index table leaves its rows' </tr> out: a new row ends the previous one.
            self._flush()
            self._row = {}
        elif tag == "td" and self._row is not None and self._cell is None:
            path = dict(attrs).get("data-path")
            if path in CELLS:
                self._cell = [CELLS[path], []]
                self._depth = 0
        elif tag == "td" and self._cell is not None:
            self._depth += 1

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            if self._depth:
                self._depth -= 1
                return
            name, parts = self._cell
            self._row[name] = "".join(parts)
            self._cell = None
        elif tag in ("tr", "tbody", "table") and self._row is not None:
            self._flush()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1].append(data)


def parse_news(html):
    parser = NewsTableParser()
    parser.feed(html)
    parser.close()
    return [{**r, "id": r["id"].strip(), "message": r.get("message", "")} for r in parser.rows]


def norm(text):
    return (text or "").replace("\r\n", "\n").strip()


class NewsManager(MispManager):
    list_option = "items"
    item_spec = ITEM_SPEC
    identity_keys = ("title",)

    def identity(self, item):
        return [("title", item["title"])] if item.get("title") is not None else []  # titles match exactly

    def check_item(self, item):
        if item["title"] is None:
            self.fail("title is required")
        if item["state"] == "present" and item["text"] is None:
            self.fail("text is required when state is present")

    def process(self):
        p = self.params
        items = [n for n in self.read() if n["title"] == p["title"]]

        if p["state"] == "absent":
            if items and not self.check_mode:
                for item in items:
                    self.client.post(f"/news/delete/{item['id']}")
            before = {"title": p["title"], "message": items[0]["message"]} if items else {}
            return dict(changed=bool(items), diff={"before": before, "after": {}})

        wanted = {"title": p["title"], "message": p["text"]}
        if not items:
            if not self.check_mode:
                self.save("/news/add", {**wanted, "anonymise": p["anonymise"]})
            return dict(changed=True, diff={"before": {}, "after": wanted}, news=wanted)

        item = max(items, key=lambda n: int(n["id"]) if n["id"].isdigit() else 0)
        current = {"id": item["id"], "title": item["title"], "message": item["message"]}
        if norm(item["message"]) == norm(p["text"]):
            return dict(changed=False, diff={"before": {}, "after": {}}, news=current)
        if not self.check_mode:
            self.save(f"/news/edit/{item['id']}", wanted)
        return dict(
            changed=True,
            diff={"before": {"message": item["message"]}, "after": {"message": p["text"]}},
            news={**current, "message": p["text"]},
        )

    def read(self):
        """All news items, read once per run."""
        if not hasattr(self, "_news"):
            self._news = self.fetch()
        return self._news

    def fetch(self):
        page = self.client.get(LIST_PATH, headers={"Accept": HTML_ACCEPT})
        if not isinstance(page, str) or "<table" not in page:
            status = self.client.last_status
            where = self.client.last_headers.get("Location") or self.client.last_headers.get("location") or ""
            self.fail(
                f"Could not read the news list from {LIST_PATH} (HTTP {status}{' -> ' + where if where else ''}); "
                "the API key must belong to a site admin",
                status=status,
            )
        return parse_news(page)

    def save(self, path, fields):
        self.client.post(path, {"News": fields})
        status = self.client.last_status
        location = self.client.last_headers.get("Location") or self.client.last_headers.get("location") or ""
        # MISP redirects to /news/index after saving; anything else means it did not save.
        if status not in (301, 302, 303) or "/users/login" in location:
            self.fail(f"MISP did not save the news item at {path} (HTTP {status} {location})".strip(), status=status)


def main():
    run_module(NewsManager, ARGUMENT_SPEC, **list_mode_rules("items", ITEM_SPEC))


if __name__ == "__main__":
    main()
