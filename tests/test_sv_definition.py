"""The local serious violence definition (issue 14, part 1): the shipped offence list is exactly
the one the partnership agreed under the Serious Violence Duty (2023), item by item."""

from __future__ import annotations

import pytest

from conftest import copy_monitoring_project

from evalkit.errors import SpecError
from evalkit.monitor.config import load_monitoring
from evalkit.monitor.definitions import norm_code, norm_description

DEFINITION = ("Violence resulting in significant physical injury and other serious harm, including sexual "
              "violence. Violence may be committed with or without weapons, and may take place in domestic or "
              "public places.")
# the agreed list, by category, in the agreed wording
AGREED = [
    ("Homicide", ["Murder", "Manslaughter", "Corporate Manslaughter", "Infanticide"]),
    ("Robbery", ["Robbery of Business Property", "Robbery of Personal Property"]),
    ("Arson", ["Arson – Endangering Life"]),
    ("Violence with injury", ["Attempted Murder",
                              "Cause or Allow Death or Serious Physical Harm to Child or Vulnerable Person",
                              "Assault with Intent to Cause Serious Harm", "Endangering Life", "Assault with Injury",
                              "Racially or Religiously Aggravated Assault with Injury"]),
    ("Violence without injury", ["Threats to Kill", "Kidnapping and False Imprisonment", "Modern Slavery"]),
    ("Stalking and harassment", ["Harassment", "Racially or Religiously Aggravated Harassment",
                                 "Malicious Communications", "Stalking", "Controlling or Coercive Behaviour"]),
    ("Sexual offences", ["Rape", "Other Sexual Offences"]),
    ("Miscellaneous crimes against society", ["Exploitation of Prostitution"]),
    ("Public disorder", ["Affray / Offences Against State", "Violent Disorder"]),
    ("Burglary (aggravated only)", ["Burglary Residential (Home)", "Burglary Residential (Unconnected Building)",
                                    "Burglary Business and Community"]),
]


@pytest.fixture(scope="module")
def mapping(tmp_path_factory):
    root = tmp_path_factory.mktemp("sv") / "p"
    copy_monitoring_project(root)
    return load_monitoring(root).mapping


def test_the_definition_and_its_version(mapping):
    assert " ".join(mapping.definition.split()) == DEFINITION
    assert mapping.version == "vrn-2023.1"
    assert "Serious Violence Duty" in mapping.title and "2023" in mapping.agreed_by


def test_the_offence_list_matches_the_agreed_list_item_by_item(mapping):
    got = [(c.name, [o.name for o in c.offences]) for c in mapping.categories]
    assert len(got) == len(AGREED)
    for (cat, offences), (want_cat, want) in zip(got, AGREED):
        assert cat == want_cat
        assert offences == want, cat


def keys(mapping, offence_name):
    off = next(o for _c, o in mapping.offences() if o.name == offence_name)
    return {k for _kind, k in off.keys()}


def test_every_sub_offence_of_a_category_is_in_it(mapping):
    # all rape, of adults and of children, under Rape; every other sexual offence, including those
    # against children, under Other Sexual Offences (Home Office classes 19C-19H; 17A-23, 70-73, 88A-88E)
    rape = keys(mapping, "Rape")
    assert {norm_code(c) for c in ("19C", "19D", "19E", "19F", "19G", "19H")} <= rape
    assert norm_description("Rape of a female child under 13") in rape
    assert norm_description("Rape of a male child under 16") in rape
    other = keys(mapping, "Other Sexual Offences")
    for code in ("17A", "17B", "20A", "20B", "21", "22A", "22B", "23", "70", "71", "73", "88A", "88C", "88E"):
        assert norm_code(code) in other, code
    assert norm_description("Sexual assault on a female child under 13") in other
    assert norm_description("Sexual activity involving a child under 13") in other
    # the Home Office homicide classes, and the older wording of today's classes
    assert {"1", "1/1", "1/2"} <= keys(mapping, "Murder") and "4/1" in keys(mapping, "Manslaughter")
    assert norm_description("Wounding with intent to do grievous bodily harm") in keys(
        mapping, "Assault with Intent to Cause Serious Harm")


def test_what_the_definition_leaves_out_is_not_serious_violence(mapping):
    # counted as serious violence before vrn-2023.1: about a third of the example's "serious violence"
    left_out = {k for o in mapping.not_serious_violence for _kind, k in o.keys()}
    listed = {k for _c, o in mapping.offences() for _kind, k in o.keys()}
    for name in ("Common assault", "Assault without injury on a constable", "Public fear, alarm or distress"):
        assert norm_description(name) in left_out and norm_description(name) not in listed
    assert {"105A", "104", "9A"} <= left_out


def test_codes_and_descriptions_match_as_recorded():
    assert norm_code(" 4.1 ") == norm_code("4/1") == "4/1" and norm_code("8n") == "8N"
    assert norm_description("Arson  –  Endangering   Life") == norm_description("arson - endangering life")


def _project(tmp_path):
    root = tmp_path / "p"
    copy_monitoring_project(root)
    return root


def test_an_offence_listed_twice_is_an_error_with_its_line(tmp_path):
    root = _project(tmp_path)
    path = root / "monitoring" / "serious_violence.yml"
    text = path.read_text().replace("      - {name: Infanticide, codes: [\"4/2\"]}",
                                    "      - {name: Infanticide, codes: [\"4/2\", \"8N\"]}")
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        load_monitoring(root)
    msg = str(err.value)
    assert "monitoring/serious_violence.yml:" in msg and "offence code listed twice" in msg
    assert "'8N' (also under Homicide: Infanticide)" in msg or "'8N' (also under Violence with injury" in msg


def test_every_success_measure_cites_a_source_the_file_gives(tmp_path):
    """The Home Office definitions are cited beside each measure: a citation key must be in sources."""
    root = _project(tmp_path)
    measures = load_monitoring(root).measures
    for m in measures.measures:
        assert all(key in measures.sources for key in m.cited), m.id
        assert m.cited or m.local_definition, m.id  # only the local-definition counts cite no Home Office text
    assert "per 1,000,000 population" in measures.sources["HO-VRU"] and "X99" in measures.sources["HES"]
    path = root / "monitoring" / "success_measures.yml"
    path.write_text(path.read_text().replace("cited: [HO-KNIFE]", "cited: [HO-KNIVES]"))
    with pytest.raises(SpecError) as err:
        load_monitoring(root)
    assert "success_measures.yml:" in str(err.value)
    assert "cited.0: not a key of sources (found 'HO-KNIVES'; expected one of HES, HO-KNIFE, HO-VRU)" in str(err.value)


def test_flag_and_code_columns_must_be_declared_in_the_police_source(tmp_path):
    root = _project(tmp_path)
    path = root / "monitoring" / "serious_violence.yml"
    path.write_text(path.read_text().replace("code_column: offence_code", "code_column: ho_code")
                    .replace("knife: knife_flag", "knife: knife"))
    with pytest.raises(SpecError) as err:
        load_monitoring(root)
    msg = str(err.value)
    assert "code_column: not a column of source police (found 'ho_code'" in msg
    assert "flags.knife: not a column of source police (found 'knife'" in msg


def test_a_new_version_is_named_in_every_output(tmp_path):
    """A partnership that changes its definition bumps the version; the store's rows carry it."""
    import pandas as pd

    from evalkit.monitor.ingest import ingest
    from evalkit.monitor.keys import KEY_ENV
    from evalkit.monitor.measures import compute_success_measures
    from evalkit.monitor.profile import needs_profile
    from evalkit.store import open_store

    root = _project(tmp_path)
    path = root / "monitoring" / "serious_violence.yml"
    # the partnership adds common assault: a new version
    path.write_text(path.read_text().replace("version: vrn-2023.1", "version: vrn-2025.1")
                    .replace("      - {name: Modern Slavery, codes: [\"106\"]}",
                             "      - {name: Modern Slavery, codes: [\"106\"]}\n      - {name: Common Assault, codes: [105A]}")
                    .replace("  - name: Assault without Injury\n    codes: [105A]\n    descriptions: [Common assault]\n", ""))
    mon = load_monitoring(root)
    police = pd.DataFrame({"crime_ref": ["C1", "C2"], "occurred_at": ["2024-01-05 21:00:00", "2024-01-06 10:00:00"],
                           "offence_code": ["105A", "8N"], "offence_type": ["Common assault", "Assault with injury"],
                           "knife_flag": [False, True], "domestic_flag": [False, False],
                           "location_type": ["street or highway", "dwelling"], "area": ["A", "A"],
                           **{c: [None, None] for c in ("victim_id", "victim_age", "victim_sex", "victim_residence",
                                                       "suspect_id", "suspect_age", "suspect_sex",
                                                       "suspect_residence")}})
    (root / "police.csv").write_text(police.to_csv(index=False))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, "v" * 40)
        with open_store(root / ".evalkit" / "s.duckdb") as store:
            ingest(store, mon, "police", root / "police.csv")
            values = compute_success_measures(store, mon)
            profile = needs_profile(store, mon)
    local = values[(values.measure == "serious_violence_local") & (values.area == "all") & (values.variant == "all")]
    assert local["count"].tolist() == [2] and set(values.sv_definition.dropna()) == {"vrn-2025.1"}
    assert profile["summary"]["mapping_version"] == "vrn-2025.1" and profile["summary"]["serious_violence"] == 2


def test_a_changed_list_under_the_same_version_is_refused(tmp_path):
    from evalkit.monitor.indicators import refresh_mapping
    from evalkit.store import open_store

    root = _project(tmp_path)
    with open_store(root / ".evalkit" / "s.duckdb") as store:
        mon = load_monitoring(root)
        refresh_mapping(store, mon.mapping, mon.measures)
        refresh_mapping(store, mon.mapping, mon.measures)  # the same lists again: nothing to do
        path = root / "monitoring" / "serious_violence.yml"
        path.write_text(path.read_text().replace("      - {name: Modern Slavery, codes: [\"106\"]}",
                                                 "      - {name: Modern Slavery, codes: [\"106\", \"13\"]}"))
        with pytest.raises(SpecError, match=r"serious_violence.yml: error: version: the offence lists changed but "
                                            r"the version did not.*found 'vrn-2023.1'"):
            refresh_mapping(store, load_monitoring(root).mapping, mon.measures)
