import copy
import json

import pytest
from ansible_collections.mispops.misp.plugins.modules.misp_taxonomy import (
    ARGUMENT_SPEC,
    TaxonomyManager,
    content_differences,
)
from fake_misp import FakeMisp, envelope, run_manager

DOC = {
    "namespace": "privacy-threat",
    "description": "Security and privacy threats (TRUST aWARE)",
    "version": 2,
    "expanded": "Privacy threat",
    "exclusive": False,
    "refs": ["https://trustaware.eu"],
    "predicates": [
        {"value": "information-collection", "expanded": "Information collection"},
        {"value": "compliance", "expanded": "Compliance"},
    ],
    "values": [
        {
            "predicate": "information-collection",
            "entry": [
                {"value": "surveillance", "expanded": "Surveillance", "colour": "#1F77B4", "numerical_value": 50},
                {"value": "interrogation", "expanded": "Interrogation"},
            ],
        }
    ],
}

# What GET /taxonomies/export/<id> gives back: stored fields only, empty ones as "" or absent.
EXPORT = {
    "namespace": "privacy-threat",
    "description": "Security and privacy threats (TRUST aWARE)",
    "version": "2",
    "exclusive": False,
    "predicates": [
        {"value": "compliance", "expanded": "Compliance", "colour": "", "description": ""},
        {"value": "information-collection", "expanded": "Information collection"},
    ],
    "values": [
        {
            "predicate": "information-collection",
            "entry": [
                {"value": "interrogation", "expanded": "Interrogation", "colour": ""},
                {"value": "surveillance", "expanded": "Surveillance", "colour": "#1f77b4", "numerical_value": "50"},
            ],
        }
    ],
}


def index_row(**over):
    tax = {
        "id": "42",
        "namespace": "privacy-threat",
        "description": DOC["description"],
        "version": "2",
        "enabled": True,
        "exclusive": False,
        "required": True,
        "highlighted": False,
    }
    tax.update(over)
    return {"Taxonomy": tax, "total_count": 3, "current_count": 3}


TLP = {
    "Taxonomy": {"id": "7", "namespace": "tlp", "version": "10", "enabled": False, "required": False},
    "total_count": 5,
    "current_count": 0,
}


@pytest.fixture
def fake():
    f = FakeMisp()
    f.route("GET", "/taxonomies/index", [TLP, index_row()])
    f.route("GET", "/taxonomies/export/42", EXPORT)
    return f


def run(fake, p, check_mode=False):
    return run_manager(TaxonomyManager, p, fake, check_mode=check_mode, spec=ARGUMENT_SPEC)


def test_no_change_content_compare(fake):
    result = run(fake, {"content": DOC, "required": True})
    assert result["changed"] is False, result
    assert result["imported"] is False
    assert fake.calls == [("GET", "/taxonomies/index", None), ("GET", "/taxonomies/export/42", None)]


def test_no_change_version_compare_single_list_call(fake):
    result = run(fake, {"content": DOC, "compare": "version", "required": True})
    assert result["changed"] is False
    assert fake.calls == [("GET", "/taxonomies/index", None)]


def test_src_file(fake, tmp_path):
    path = tmp_path / "machinetag.json"
    path.write_text(json.dumps(DOC))
    result = run(fake, {"src": str(path)})
    assert result["changed"] is False


def test_content_as_json_string(fake):
    assert run(fake, {"content": json.dumps(DOC)})["changed"] is False


def test_changed_entry_reimports_and_reapplies_required(fake):
    doc = copy.deepcopy(DOC)
    doc["values"][0]["entry"][1]["expanded"] = "Interrogation of people"
    fake.route("POST", "/taxonomies/import", {"Taxonomy": {"id": "43", "namespace": "privacy-threat", "version": "2"}})
    fake.route("POST", "/taxonomies/addTag/43", {"saved": True, "success": True})
    fake.route("POST", "/taxonomies/toggleRequired/43", {"saved": True, "success": True})
    result = run(fake, {"content": doc, "required": True})
    assert result["changed"] is True
    assert result["imported"] is True
    assert "information-collection=interrogation" in result["import_reason"]
    assert fake.writes() == [
        ("POST", "/taxonomies/import", doc),
        ("POST", "/taxonomies/addTag/43", {}),
        ("POST", "/taxonomies/toggleRequired/43", {"Taxonomy": {"required": True}}),
    ]
    assert result["taxonomy"]["id"] == "43"
    assert result["taxonomy"]["enabled"] is True  # kept by MISP on re-import, so no enable call
    assert result["diff"]["after"]["required"] is True


def test_missing_taxonomy_import_enable_tags(fake):
    fake.route("GET", "/taxonomies/index", [TLP])
    fake.route(
        "POST",
        "/taxonomies/import",
        {"Taxonomy": {"id": "50", "namespace": "privacy-threat", "version": "2", "enabled": False}},
    )
    fake.route("POST", "/taxonomies/enable/50", {"saved": True, "success": True})
    fake.route("POST", "/taxonomies/addTag/50", {"saved": True, "success": True})
    result = run(fake, {"content": DOC})
    assert result["import_reason"] == "missing"
    assert [w[1] for w in fake.writes()] == ["/taxonomies/import", "/taxonomies/enable/50", "/taxonomies/addTag/50"]
    assert result["taxonomy"]["total_count"] == 3
    assert result["diff"]["before"]["enabled"] is False


def test_missing_taxonomy_check_mode(fake):
    fake.route("GET", "/taxonomies/index", [TLP])
    result = run(fake, {"content": DOC, "required": True}, check_mode=True)
    assert result["changed"] is True
    assert result["imported"] is True
    assert result["tags_created"] is True
    assert fake.writes() == []
    assert result["taxonomy"]["id"] is None


def test_newer_version_imports_without_export(fake):
    doc = {**DOC, "version": 3}
    fake.route(
        "POST",
        "/taxonomies/import",
        {"Taxonomy": {"id": "44", "namespace": "privacy-threat", "version": "3", "enabled": True}},
    )
    fake.route("POST", "/taxonomies/addTag/44", {})
    result = run(fake, {"content": doc, "compare": "version"})
    assert result["import_reason"] == "newer version"
    assert ("GET", "/taxonomies/export/42", None) not in fake.calls


def test_existing_library_taxonomy_enable_and_tags(fake):
    fake.route("POST", "/taxonomies/enable/7", {"saved": True})
    fake.route("POST", "/taxonomies/addTag/7", {"saved": True})
    result = run(fake, {"namespace": "TLP"})
    assert result["changed"] is True
    assert [w[1] for w in fake.writes()] == ["/taxonomies/enable/7", "/taxonomies/addTag/7"]
    assert result["diff"]["before"]["tags"] == "0/5"
    fake.route(
        "GET", "/taxonomies/index", [{**TLP, "Taxonomy": {**TLP["Taxonomy"], "enabled": True}, "current_count": 5}]
    )
    fake.reset()
    assert run(fake, {"namespace": "tlp"})["changed"] is False
    assert len(fake.calls) == 1


def test_disable(fake):
    fake.route("POST", "/taxonomies/disable/42", {"saved": True})
    result = run(fake, {"namespace": "privacy-threat", "enabled": False})
    assert result["changed"] is True
    assert fake.writes() == [("POST", "/taxonomies/disable/42", {})]


def test_clear_required(fake):
    fake.route("POST", "/taxonomies/toggleRequired/42", {"saved": True})
    result = run(fake, {"namespace": "privacy-threat", "required": False})
    assert fake.writes() == [("POST", "/taxonomies/toggleRequired/42", {"Taxonomy": {"required": False}})]
    assert result["diff"] == {"before": {"required": True}, "after": {"required": False}}


def test_unknown_namespace_without_document_fails(fake):
    result = run(fake, {"namespace": "nope"})
    assert result["failed"] is True
    assert "src or content" in result["msg"]


@pytest.mark.parametrize(
    ("doc", "text"),
    [
        ({"namespace": "x", "description": "d"}, "predicates"),
        (
            {"namespace": "x", "description": "d", "predicates": [{"value": "a"}], "values": [{"predicate": "b"}]},
            "unknown predicates",
        ),
        ("{not json", "not valid JSON"),
    ],
)
def test_invalid_documents(fake, doc, text):
    result = run(fake, {"content": doc})
    assert result["failed"] is True
    assert text in result["msg"]
    assert fake.calls == []


def test_import_error_mapped(fake):
    fake.route("GET", "/taxonomies/index", [])
    fake.route("POST", "/taxonomies/import", envelope("Predicate `x` is missing", saved=False), status=403)
    result = run(fake, {"content": DOC})
    assert result["failed"] is True
    assert result["status"] == 403
    assert "Predicate" in result["misp_message"]


def test_content_differences_ignores_unset_fields_and_order():
    assert content_differences(DOC, EXPORT) == []
    other = copy.deepcopy(EXPORT)
    other["predicates"].append({"value": "invasions"})
    assert content_differences(DOC, other) == ["predicates: invasions"]
    other = copy.deepcopy(EXPORT)
    other["values"][0]["entry"][1]["numerical_value"] = 60
    assert content_differences(DOC, other) == ["information-collection=surveillance"]


def test_requires_something():
    result = run(FakeMisp(), {})
    assert result["failed"] is True


def test_content_differences_predicate_exclusive_false_equals_absent_in_export():
    """MISP 2.5.1's export omits a predicate's "exclusive" when it is false; a document that says
    exclusive: false must not be re-imported on every run because of that."""
    doc = copy.deepcopy(DOC)
    for pred in doc["predicates"]:
        pred["exclusive"] = False
    assert content_differences(doc, EXPORT) == []
    exported = copy.deepcopy(EXPORT)
    exported["predicates"][0]["exclusive"] = True
    assert content_differences(doc, exported) == ["predicate compliance"]
