"""Validate the private Security & Privacy (S&P) threat taxonomy shipped by the misp_taxonomies role.

Checks the machinetag.json against MISP's taxonomy JSON schema and against the content rules of the S&P threat
definition (TRUST aWARE D4.7, see the user's seed): two groups, five categories, Solove's privacy harms, the GDPR
data-subject rights and the cybersecurity-incident forms a CERT sees, each in its category.
"""

import copy
import json
import re
import uuid
from pathlib import Path

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]
TAXONOMY_FILE = REPO / "roles" / "misp_taxonomies" / "files" / "sp-threat" / "machinetag.json"
SHARED_SCHEMA = REPO.parent / "shared" / "data" / "misp-taxonomies-schema.json"
LOCAL_SCHEMA = REPO / "tests" / "data" / "misp-taxonomies-schema.json"

# Namespaces of every machinetag.json in MISP/misp-taxonomies (== MANIFEST.json names, 183 entries)
# at commit 7591c551cce82552b9b21773e05f4a50bccfdfac (2026-08-21).
UPSTREAM_NAMESPACES = frozenset(
    (
        "CERT-XLM",
        "DFRLab-dichotomies-of-disinformation",
        "DML",
        "GrayZone",
        "PAP",
        "access-method",
        "accessnow",
        "acn",
        "acs-marking",
        "action-taken",
        "admiralty-scale",
        "adversary",
        "agent-threat-rules",
        "ai-bias-terminology",
        "ai-computer-assisted",
        "ai-safety-benchmark",
        "ais-marking",
        "analyst-assessment",
        "anti-piracy",
        "approved-category-of-action",
        "artificial-satellites",
        "aviation",
        "binary-class",
        "carding",
        "cccs",
        "ce-uas-classification",
        "circl",
        "cloud-sovereignty",
        "cnsd",
        "coa",
        "collaborative-intelligence",
        "common-taxonomy",
        "content-classification",
        "copine-scale",
        "course-of-action",
        "crowdsec",
        "cryptocurrency-market",
        "cryptocurrency-threat",
        "csirt-americas",
        "csirt_case_classification",
        "cssa",
        "cti",
        "cti-evaluation",
        "current-event",
        "cyber-threat-framework",
        "cycat",
        "cytomic-orion",
        "dark-web",
        "data-classification",
        "dcso-sharing",
        "ddos",
        "de-vs",
        "death-possibilities",
        "deception",
        "detection-engineering",
        "dga",
        "dhs-ciip-sectors",
        "diamond-model",
        "diamond-model-for-influence-operations",
        "dni-ism",
        "domain-abuse",
        "doping-substances",
        "drug-form",
        "drugs",
        "economical-impact",
        "ecsirt",
        "enisa",
        "ensoc",
        "estimative-language",
        "eu-ai-act",
        "eu-marketop-and-publicadmin",
        "eu-nis-sector-and-subsectors",
        "euci",
        "europol-event",
        "europol-incident",
        "event-assessment",
        "event-classification",
        "exercise",
        "extended-event",
        "failure-mode-in-machine-learning",
        "false-positive",
        "file-type",
        "financial",
        "flesch-reading-ease",
        "fpf",
        "fr-classif",
        "gdpr",
        "gea-nz-activities",
        "gea-nz-entities",
        "gea-nz-motivators",
        "gsma-attack-category",
        "gsma-fraud",
        "gsma-network-technology",
        "honeypot-basic",
        "hunt-ex",
        "iab-ad-product-2-0",
        "iab-audience-1-1",
        "iab-content-3-0-descriptive-vectors",
        "iab-content-3-1",
        "ics",
        "iep",
        "iep2-policy",
        "iep2-reference",
        "ifx-vetting",
        "incident-disposition",
        "infoleak",
        "information-origin",
        "information-security-data-source",
        "information-security-indicators",
        "interactive-cyber-training-audience",
        "interactive-cyber-training-technical-setup",
        "interactive-cyber-training-training-environment",
        "interactive-cyber-training-training-setup",
        "interception-method",
        "ioc",
        "iot",
        "kill-chain",
        "maec-delivery-vectors",
        "maec-malware-behavior",
        "maec-malware-capabilities",
        "maec-malware-obfuscation-methods",
        "malware_classification",
        "meteorstorm",
        "misinformation-website-label",
        "misp",
        "misp-workflow",
        "monarc-threat",
        "ms-caro-malware",
        "ms-caro-malware-full",
        "mwdb",
        "nato",
        "nato-uas-classification",
        "nis",
        "nis2",
        "niso-credit",
        "open_threat",
        "organizational-cyber-harm",
        "osint",
        "pandemic",
        "passivetotal",
        "pentest",
        "pfc",
        "phishing",
        "poison-taxonomy",
        "political-spectrum",
        "priority-level",
        "ptrclassify",
        "pyoti",
        "ransomware",
        "ransomware-roles",
        "retention",
        "rsit",
        "rstcloud",
        "rt_event_status",
        "runtime-packer",
        "scrippsco2-fgc",
        "scrippsco2-fgi",
        "scrippsco2-sampling-stations",
        "sentinel-threattype",
        "smart-airports-threats",
        "social-engineering-attack-vectors",
        "sov",
        "srbcert",
        "state-responsibility",
        "stealth_malware",
        "stix-ttp",
        "targeted-threat-index",
        "thales_group",
        "threatmatch",
        "threats-to-dns",
        "tlp",
        "tor",
        "trust",
        "type",
        "uas-additionnal-classification",
        "unified-kill-chain",
        "unified-ransomware-kill-chain",
        "use-case-applicability",
        "veris",
        "vmray",
        "vocabulaire-des-probabilites-estimatives",
        "vulnerability",
        "workflow",
    )
)

GROUPS = {"cybersecurity-incident", "compliance-issue"}
CATEGORIES = (
    "information-collection",
    "information-processing",
    "information-dissemination",
    "invasions",
    "compliance",
)

# Solove, "A Taxonomy of Privacy", 154 U. Pa. L. Rev. 477 (2006): the four groups are our first four categories.
SOLOVE_HARMS = {
    "information-collection": {"surveillance", "interrogation"},
    "information-processing": {"aggregation", "identification", "insecurity", "secondary-use", "exclusion"},
    "information-dissemination": {
        "breach-of-confidentiality",
        "disclosure",
        "exposure",
        "increased-accessibility",
        "blackmail",
        "appropriation",
        "distortion",
    },
    "invasions": {"intrusion", "decisional-interference"},
}

# The compliance threats the seed lists under category 5.
SEED_COMPLIANCE = {
    "not-complying-with-individual-rights",
    "no-contact-details-of-responsible-person",
    "improper-personal-data-breach-response",
}

# GDPR data-privacy requirements listed in the seed -> compliance value.
GDPR_RIGHTS = {
    "Art. 12": "transparency-and-communication",
    "Art. 13 & 14": "information-when-collecting",
    "Art. 15": "right-of-access",
    "Art. 16": "right-to-rectification",
    "Art. 17": "right-to-erasure",
    "Art. 18": "right-to-restriction-of-processing",
    "Art. 20": "right-to-data-portability",
    "Art. 21": "right-to-object",
}

# Cybersecurity-incident forms a CERT sees, and the category each belongs to.
CYBER_FORMS = {
    "spyware": "information-collection",
    "stalkerware": "information-collection",
    "covert-tracking": "information-collection",
    "data-scraping": "information-collection",
    "unauthorised-profiling": "information-processing",
    "deanonymisation": "information-processing",
    "credential-stuffing": "information-processing",
    "identity-theft": "information-processing",
    "data-leak": "information-dissemination",
    "unauthorised-selling-of-personal-data": "information-dissemination",
    "doxxing": "information-dissemination",
    "sextortion": "information-dissemination",
    "deepfake": "information-dissemination",
    "phishing": "invasions",
    "social-engineering": "invasions",
    "account-takeover": "invasions",
    "cyberstalking": "invasions",
}

MACHINE_TAG_SAFE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@pytest.fixture(scope="module")
def schema():
    path = SHARED_SCHEMA if SHARED_SCHEMA.is_file() else LOCAL_SCHEMA
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def taxonomy():
    return json.loads(TAXONOMY_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def entries(taxonomy):
    """{predicate: {value: entry}}; duplicates are caught by test_no_duplicate_values."""
    return {block["predicate"]: {e["value"]: e for e in block["entry"]} for block in taxonomy["values"]}


def _schema_errors(schema, document):
    # The schema declares draft-4 style ("id"); its "$schema" URI is not a known metaschema, so pick explicitly.
    validator = jsonschema.Draft4Validator(schema)
    return sorted(validator.iter_errors(document), key=lambda e: list(e.path))


def _all_entries(taxonomy):
    return [(block["predicate"], entry) for block in taxonomy["values"] for entry in block["entry"]]


def test_local_schema_copy_matches_shared():
    assert LOCAL_SCHEMA.is_file(), "tests/data/misp-taxonomies-schema.json is needed when shared/ is absent (CI)"
    if SHARED_SCHEMA.is_file():
        assert json.loads(LOCAL_SCHEMA.read_text()) == json.loads(SHARED_SCHEMA.read_text())


def test_schema_itself_is_valid(schema):
    jsonschema.Draft4Validator.check_schema(schema)


def test_valid_against_misp_schema(schema, taxonomy):
    errors = _schema_errors(schema, taxonomy)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda t: t.update(unknown_field=1), id="extra-top-level-field"),
        pytest.param(lambda t: t.update(version="1"), id="version-string"),
        pytest.param(lambda t: t.pop("predicates"), id="no-predicates"),
        pytest.param(lambda t: t["values"][0]["entry"][0].update(tags=["x"]), id="extra-entry-field"),
        pytest.param(lambda t: t["predicates"].append(copy.deepcopy(t["predicates"][0])), id="duplicate-predicate"),
    ],
)
def test_schema_rejects_broken_copies(schema, taxonomy, mutate):
    """Negative control: the schema validation above is not vacuous."""
    broken = copy.deepcopy(taxonomy)
    mutate(broken)
    assert _schema_errors(schema, broken)


def test_version_is_integer(taxonomy):
    # bool is a subclass of int in Python: exclude it explicitly. MISP re-imports only on a higher version.
    assert type(taxonomy["version"]) is int and taxonomy["version"] >= 1


def test_namespace_is_private_and_machine_tag_safe(taxonomy):
    namespace = taxonomy["namespace"]
    assert MACHINE_TAG_SAFE.match(namespace), namespace
    assert namespace not in UPSTREAM_NAMESPACES
    assert namespace.lower() not in {n.lower() for n in UPSTREAM_NAMESPACES}


def test_top_level_metadata(taxonomy):
    assert taxonomy["expanded"] and taxonomy["description"]
    uuid.UUID(taxonomy["uuid"])
    # A threat may belong to both groups and to several categories: the taxonomy must not be exclusive.
    assert taxonomy.get("exclusive", False) is False
    # MISP's file-drop update skips vocabularies whose type lacks "event".
    assert "type" not in taxonomy or "event" in taxonomy["type"]
    assert taxonomy["refs"] and all(ref.startswith("https://") for ref in taxonomy["refs"])


def test_predicates_are_groups_and_categories(taxonomy):
    predicates = [p["value"] for p in taxonomy["predicates"]]
    assert len(predicates) == len(set(predicates)), "duplicate predicate"
    assert set(predicates) == {"group", *CATEGORIES}
    for predicate in taxonomy["predicates"]:
        assert MACHINE_TAG_SAFE.match(predicate["value"]), predicate["value"]
        assert predicate.get("expanded") and predicate.get("description"), predicate["value"]
        # "one or both" scenarios; several threats per category: no predicate is exclusive.
        assert predicate.get("exclusive", False) is False, predicate["value"]


def test_values_blocks_reference_declared_predicates(taxonomy):
    declared = {p["value"] for p in taxonomy["predicates"]}
    blocks = [block["predicate"] for block in taxonomy["values"]]
    assert len(blocks) == len(set(blocks)), "a predicate has two values blocks"
    # MISP's import fails with "Predicate `x` is missing" otherwise.
    assert set(blocks) <= declared
    assert set(blocks) == declared, "every predicate carries concrete values"


def test_both_groups_present(entries):
    assert set(entries["group"]) == GROUPS


def test_every_category_has_values(entries):
    for category in CATEGORIES:
        assert entries.get(category), f"category {category} has no values"


@pytest.mark.parametrize("category", sorted(SOLOVE_HARMS))
def test_solove_harms_present(entries, category):
    missing = SOLOVE_HARMS[category] - set(entries[category])
    assert not missing, f"{category} lacks Solove harm(s) {sorted(missing)}"


def test_seed_compliance_threats_present(entries):
    missing = SEED_COMPLIANCE - set(entries["compliance"])
    assert not missing, f"compliance lacks seed threat(s) {sorted(missing)}"


@pytest.mark.parametrize("article", sorted(GDPR_RIGHTS))
def test_gdpr_rights_present(entries, article):
    value = GDPR_RIGHTS[article]
    assert value in entries["compliance"], f"GDPR {article} ({value}) missing from compliance"
    entry = entries["compliance"][value]
    assert f"GDPR {article}" in entry["expanded"], f"{value}: expanded name should cite GDPR {article}"


@pytest.mark.parametrize("value", sorted(CYBER_FORMS))
def test_cybersecurity_forms_in_their_category(entries, value):
    category = CYBER_FORMS[value]
    found_in = [predicate for predicate, values in entries.items() if value in values]
    assert found_in == [category], f"{value} expected in {category}, found in {found_in}"


def test_all_entries_complete_and_machine_tag_safe(taxonomy):
    for predicate, entry in _all_entries(taxonomy):
        label = f"{predicate}={entry.get('value')}"
        # The upstream schema lists "required" inside "properties", so it does not enforce "value": check here.
        assert entry.get("value"), label
        assert MACHINE_TAG_SAFE.match(entry["value"]), label
        assert entry.get("expanded", "").strip(), f"{label}: no expanded name"
        assert entry.get("description", "").strip(), f"{label}: no description"
        # MISP stores colour as varchar(7) and numerical_value as int.
        assert "colour" not in entry or COLOUR.match(entry["colour"]), label
        assert "numerical_value" not in entry or type(entry["numerical_value"]) is int, label
        tag = f'{taxonomy["namespace"]}:{predicate}="{entry["value"]}"'
        assert len(tag) <= 255, f"{tag} too long for MISP's tags.name"


def test_no_duplicate_values(taxonomy):
    seen = {}
    for predicate, entry in _all_entries(taxonomy):
        assert entry["value"] not in seen, f"{entry['value']} in both {seen.get(entry['value'])} and {predicate}"
        seen[entry["value"]] = predicate
    expanded = [entry["expanded"] for _, entry in _all_entries(taxonomy)]
    assert len(expanded) == len(set(expanded)), "duplicate expanded names"


def test_uuids_valid_and_unique(taxonomy):
    uuids = [taxonomy["uuid"]] + [p["uuid"] for p in taxonomy["predicates"]]
    uuids += [entry["uuid"] for _, entry in _all_entries(taxonomy)]
    for value in uuids:
        uuid.UUID(value)
    assert len(uuids) == len(set(uuids)), "duplicate uuid"
