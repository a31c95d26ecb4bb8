"""Unit tests for mispops.misp.misp_news."""

from __future__ import annotations

import html

from ansible_collections.mispops.misp.plugins.modules import misp_news
from ansible_collections.mispops.misp.plugins.modules.misp_news import ARGUMENT_SPEC, NewsManager
from fake_misp import FakeMisp, envelope, run_manager

BASE = {"misp_url": "https://misp.test", "misp_api_key": "K" * 40}
LIST = misp_news.LIST_PATH
REDIRECT = {"Location": "https://misp.test/news/index"}


def page(items):
    """Shaped like MISP 2.5's genericElements/IndexTable output for News/admin_index."""
    rows = ""
    for k, (nid, email, title, message) in enumerate(items):
        rows += (
            f'<tr data-row-id="{k}">'
            f'<td data-path="News.id">{nid}</td>'
            f'<td data-path="User.email">{html.escape(email)}</td>'
            f'<td data-path="News.title">{html.escape(title)}</td>'
            f'<td data-path="News.message">{html.escape(message)}</td>'
            f'<td data-path="News.date_created"><span title="x">2026-01-01</span></td>'
            '<td class="short action-links"><a href="/news/edit/1"><i class="fa fa-edit"></i></a></td>'
            "</tr>"
        )
    return (
        '<!DOCTYPE html><html><body><table class="table"><thead><tr><th>ID</th><th>Title</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></body></html>"
    )


ITEMS = [
    ("5", "admin@admin.test", "Maintenance <Saturday>", "MISP is **down**\r\n08:00 & 10:00\n"),
    ("3", "", "Welcome", "Hello"),
    ("2", "admin@admin.test", "Welcome", "Old hello"),
]


def fake_misp(items=ITEMS):
    fake = FakeMisp()
    fake.route("GET", LIST, page(items), headers={"Content-Type": "text/html"})
    fake.route("POST", "/news/add", b"", status=302, headers=REDIRECT)
    fake.route("POST", r"^/news/edit/(\d+)$", b"", status=302, headers=REDIRECT)
    fake.route("POST", r"^/news/delete/(\d+)$", {"saved": True, "success": True})
    return fake


def run(params, fake, check_mode=False):
    return run_manager(NewsManager, {**BASE, **params}, fake, check_mode=check_mode, spec=ARGUMENT_SPEC)


def test_parse_admin_index():
    rows = misp_news.parse_news(page(ITEMS))
    assert rows[0] == {
        "id": "5",
        "author": "admin@admin.test",
        "title": "Maintenance <Saturday>",
        "message": "MISP is **down**\r\n08:00 & 10:00\n",
    }
    assert [r["id"] for r in rows] == ["5", "3", "2"]


def test_no_change_reads_once_with_html_accept():
    fake = fake_misp()
    result = run({"title": "Maintenance <Saturday>", "text": "MISP is **down**\n08:00 & 10:00"}, fake)
    assert result["changed"] is False
    assert fake.calls == [("GET", LIST, None)]
    assert fake.requests[0].headers["Accept"] == "text/html, application/xml"
    assert fake.requests[0].headers["Authorization"] == "K" * 40
    assert result["news"]["id"] == "5"


def test_create():
    fake = fake_misp()
    result = run({"title": "New", "text": "Text", "anonymise": True}, fake)
    assert result["changed"] is True
    assert fake.writes() == [("POST", "/news/add", {"News": {"title": "New", "message": "Text", "anonymise": True}})]
    assert result["diff"] == {"before": {}, "after": {"title": "New", "message": "Text"}}


def test_create_check_mode():
    fake = fake_misp()
    result = run({"title": "New", "text": "Text"}, fake, check_mode=True)
    assert result["changed"] is True and fake.writes() == []


def test_update_newest_duplicate_with_diff():
    fake = fake_misp()
    result = run({"title": "Welcome", "text": "Hi all"}, fake)
    assert fake.writes() == [("POST", "/news/edit/3", {"News": {"title": "Welcome", "message": "Hi all"}})]
    assert result["diff"] == {"before": {"message": "Hello"}, "after": {"message": "Hi all"}}
    assert result["news"] == {"id": "3", "title": "Welcome", "message": "Hi all"}


def test_update_check_mode():
    fake = fake_misp()
    assert run({"title": "Welcome", "text": "Hi all"}, fake, check_mode=True)["changed"] is True
    assert fake.writes() == []


def test_absent_deletes_all_with_title_then_noop():
    fake = fake_misp()
    result = run({"title": "Welcome", "state": "absent"}, fake)
    assert result["changed"] is True
    assert fake.writes() == [("POST", "/news/delete/3", {}), ("POST", "/news/delete/2", {})]
    fake = fake_misp([])
    assert run({"title": "Welcome", "state": "absent"}, fake)["changed"] is False


def test_save_without_redirect_fails():
    fake = fake_misp()
    fake.route("POST", "/news/add", "<html>form</html>", status=200)
    result = run({"title": "New", "text": "Text"}, fake)
    assert result["failed"] and "did not save" in result["msg"]
    fake = fake_misp()
    fake.route("POST", "/news/add", b"", status=302, headers={"Location": "https://misp.test/users/login"})
    assert run({"title": "New", "text": "Text"}, fake)["failed"] is True


def test_unreadable_list_and_http_errors():
    fake = fake_misp()
    fake.route("GET", LIST, b"", status=302, headers={"Location": "https://misp.test/users/login"})
    result = run({"title": "x", "text": "y"}, fake)
    assert result["failed"] and "Could not read the news list" in result["msg"] and "/users/login" in result["msg"]
    fake = fake_misp()
    fake.route("GET", LIST, envelope("Authentication failed."), status=403)
    result = run({"title": "x", "text": "y"}, fake)
    assert result["failed"] and result["status"] == 403
    assert "required" in run({"title": "x"}, fake_misp())["msg"]


# -- list mode: items ---------------------------------------------------------------------
def test_list_no_change_one_read():
    items = [(str(i), "a@b.c", f"News {i}", f"Text {i}") for i in range(1, 51)]
    fake = fake_misp(items)
    wanted = [{"title": f"News {i}", "text": f"Text {i}"} for i in range(1, 51)]
    result = run({"items": wanted}, fake)
    assert result["changed"] is False
    assert fake.calls == [("GET", LIST, None)]
    assert len(result["results"]) == 50 and result["results"][0]["news"]["id"] == "1"


def mixed_news():
    return [
        {"title": "Maintenance <Saturday>", "text": "MISP is **down**\n08:00 & 10:00"},
        {"title": "Welcome", "state": "absent"},
        {"title": "Fresh", "text": "New text", "anonymise": True},
    ]


def test_list_mixed_and_check_mode():
    fake = fake_misp()
    result = run({"items": mixed_news()}, fake, check_mode=True)
    assert result["changed"] is True and fake.writes() == []
    assert set(result["diff"]["after"]) == {"Welcome", "Fresh"}
    fake = fake_misp()
    result = run({"items": mixed_news()}, fake)
    assert fake.writes() == [
        ("POST", "/news/delete/3", {}),
        ("POST", "/news/delete/2", {}),
        ("POST", "/news/add", {"News": {"title": "Fresh", "message": "New text", "anonymise": True}}),
    ]
    assert [c for c in fake.calls if c[0] == "GET"] == [("GET", LIST, None)]
    assert result["diff"]["before"] == {"Welcome": {"title": "Welcome", "message": "Hello"}, "Fresh": {}}
    assert [r["changed"] for r in result["results"]] == [False, True, True]


def test_list_missing_text_names_the_item():
    fake = fake_misp()
    result = run({"items": [{"title": "A", "text": "x"}, {"title": "B"}]}, fake)
    assert result["failed"] and result["msg"] == "B: text is required when state is present"
    assert fake.calls == []  # checked before reading or writing anything


def test_news_list_is_read_at_the_admin_routed_path():
    """MISP 2.5.1 answers /news/admin_index with 404; the admin action lives at /admin/news/index."""
    assert misp_news.LIST_PATH == "/admin/news/index/limit:9999"
    fake = fake_misp()
    fake.route("GET", "/news/admin_index/limit:9999", "<html>Not Found</html>", status=404)
    result = run({"title": "Welcome", "text": "Hello"}, fake)
    assert result.get("failed") is not True
    assert fake.calls[0][:2] == ("GET", "/admin/news/index/limit:9999")


def test_parse_rows_without_closing_tr():
    """MISP 2.5.1 renders News/admin_index rows without </tr>: every row must still be found."""
    rows = "".join(
        f'<tr data-row-id="{k}"><td data-path="News.id">{nid}</td><td data-path="User.email">a@b.test</td>'
        f'<td data-path="News.title">{title}</td><td data-path="News.message">{title} text\nline 2</td>'
        '<td data-path="News.date_created"><time>2026-12-03 19:27:52</time></td>'
        '<td class="short action-links"><a href="/news/edit/1"><i class="fas fa-edit"></i></a> </td>'
        for k, (nid, title) in enumerate([("7", "Feeds"), ("6", "Sharing groups"), ("5", "Welcome")])
    )
    page_html = f'<table class="table"><thead><th>ID</th></thead><tbody>{rows}</tbody></table><p>'
    parsed = misp_news.parse_news(page_html)
    assert [(r["id"], r["title"]) for r in parsed] == [("7", "Feeds"), ("6", "Sharing groups"), ("5", "Welcome")]
    assert parsed[2]["message"] == "Welcome text\nline 2"
    fake = fake_misp()
    fake.route("GET", LIST, page_html, headers={"Content-Type": "text/html"})
    result = run({"title": "Welcome", "text": "Welcome text\nline 2"}, fake)
    assert result["changed"] is False
    assert fake.writes() == []
