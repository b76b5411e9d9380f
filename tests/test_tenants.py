"""The org tree: levels, subtree queries, creating units, CSV import."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from core.db import session
from core.errors import ServiceError
from tenants.models import Unit, UnitLevel
from tenants.services import (
    ancestors,
    count_descendants,
    create_unit,
    descendants,
    import_units,
    is_above,
)
from tests.conftest import SHARED

HEADER = "code,name,level,parent_code\n"


def levels():
    return {lv.code: lv for lv in session().scalars(select(UnitLevel))}


def test_default_levels_follow_the_2022_plan(ctx):
    ranked = [lv.code for lv in session().scalars(select(UnitLevel).order_by(UnitLevel.rank))]
    assert ranked == ["central", "province", "district", "grassroots", "chapter"]


def test_levels_come_from_configuration(db_url, tmp_path, monkeypatch):
    from core.config import parse_unit_levels

    assert parse_unit_levels("central:Trung ương,province:Tỉnh,grassroots:Cơ sở") == (
        ("central", "Trung ương"), ("province", "Tỉnh"), ("grassroots", "Cơ sở"))


def test_subtree_and_ancestry(ctx, world):
    tw, lao_cai, sa_pa, yen_bai = (world.unit(c) for c in ("tw", "lao-cai", "sa-pa", "yen-bai"))
    assert [u.code for u in descendants(session(), lao_cai)] == ["lao-cai", "sa-pa"]
    assert {u.code for u in descendants(session(), tw, include_self=False)} == {
        "lao-cai", "yen-bai", "sa-pa", "van-yen"}
    assert is_above(tw, sa_pa) and is_above(lao_cai, sa_pa)
    assert not is_above(yen_bai, sa_pa) and not is_above(sa_pa, lao_cai)
    assert not is_above(lao_cai, lao_cai)
    assert [u.code for u in ancestors(session(), sa_pa)] == ["tw", "lao-cai"]
    assert count_descendants(session(), tw) == 4


def test_subtree_bound_does_not_catch_sibling_with_longer_id(ctx):
    """'/1/2/' must not match '/1/20/': the range is on whole path segments."""
    lv = levels()
    root = create_unit(session(), code="root", name="Root", level=lv["central"], parent=None)
    made = [create_unit(session(), code=f"p{i}", name=f"P{i}", level=lv["province"], parent=root)
            for i in range(25)]
    two = next(u for u in made if u.path.endswith("/2/"))
    twenty = next(u for u in made if u.path.endswith("/20/"))
    child = create_unit(session(), code="c20", name="C", level=lv["district"], parent=twenty)
    assert [u.code for u in descendants(session(), two)] == [two.code]
    assert child.code in [u.code for u in descendants(session(), twenty)]


@pytest.mark.parametrize("code,reason", [
    ("Bad Code", "lower-case"), ("admin", "reserved"), ("", "lower-case")])
def test_create_unit_refuses_bad_codes(ctx, world, code, reason):
    with pytest.raises(ServiceError, match=reason):
        create_unit(session(), code=code, name="X", level=levels()["district"],
                    parent=world.unit("lao-cai"))


def test_create_unit_refuses_level_not_below_parent(ctx, world):
    with pytest.raises(ServiceError, match="lower level"):
        create_unit(session(), code="x", name="X", level=levels()["province"],
                    parent=world.unit("lao-cai"))


def test_import_the_2025_units(ctx):
    raw = (SHARED / "data" / "units-2025.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    report = import_units(session(), raw)
    assert report.ok, report.problems
    session().commit()
    assert report.created == len(rows)
    tw = session().scalar(select(Unit).where(Unit.code == "tw"))
    assert count_descendants(session(), tw) == sum(1 for r in rows if r["parent_code"] == "tw")


def test_import_the_2022_lao_cai_tree_then_reimport_changes_nothing(ctx):
    raw = (SHARED / "data" / "units-2022-lao-cai.csv").read_bytes()
    first = import_units(session(), raw)
    assert first.ok, first.problems
    session().commit()
    lao_cai = session().scalar(select(Unit).where(Unit.code == "lao-cai"))
    depth = {u.code: u.depth for u in descendants(session(), lao_cai)}
    # Depth counts from Trung ương (0): province 1 … chapter 4, the four levels of 2022.
    assert (min(depth.values()), max(depth.values())) == (1, 4)
    before = session().scalar(select(func.count()).select_from(Unit))
    second = import_units(session(), raw)
    assert second.ok and second.created == 0 and second.updated == 0
    assert second.unchanged == first.created
    assert session().scalar(select(func.count()).select_from(Unit)) == before


def test_bad_file_is_refused_whole_with_line_numbers(ctx, world):
    before = session().scalar(select(func.count()).select_from(Unit))
    raw = (HEADER + "x1,A,district,lao-cai\n"      # 2: fine on its own
           "x1,B,district,lao-cai\n"                # 3: duplicate
           "x2,C,grassroots,nowhere\n"              # 4: unknown parent
           "x3,D,chapter,x4\n"                      # 5: cycle x3 → x4 → x3
           "x4,E,chapter,x3\n"                      # 6: cycle
           "x5,,planet,tw\n"                        # 7: empty name, unknown level
           "x6,F,central,lao-cai\n"                 # 8: level above its parent
           "x7,G,province,\n").encode()             # 9: a second root
    report = import_units(session(), raw)
    assert not report.ok
    lines = {p.line for p in report.problems}
    assert {3, 4, 5, 6, 7, 8, 9} <= lines
    assert 2 not in lines
    text = "\n".join(str(p) for p in report.problems)
    assert "duplicate code x1" in text and "unknown parent nowhere" in text
    assert "cycle" in text and "unknown level planet" in text
    session().rollback()
    assert session().scalar(select(func.count()).select_from(Unit)) == before


def test_wrong_encoding_is_named_with_its_line(ctx, world):
    raw = (HEADER + "x1,Đoàn A,district,lao-cai\n").encode("utf-8") + \
        "x2,Đoàn Hà,district,lao-cai\n".encode("cp1258")
    report = import_units(session(), raw)
    assert not report.ok
    assert report.problems[0].line == 3
    assert "UTF-8" in report.problems[0].message


def test_utf8_bom_and_nfc(ctx, world):
    decomposed = "Đoàn Hòa".replace("ò", "o\u0300")
    raw = "\ufeff".encode() + (HEADER + f"x1,{decomposed},district,lao-cai\n").encode()
    report = import_units(session(), raw)
    assert report.ok, report.problems
    assert session().scalar(select(Unit.name).where(Unit.code == "x1")) == "Đoàn Hòa"


def test_missing_columns(ctx):
    report = import_units(session(), b"code,name\nx,y\n")
    assert not report.ok and "parent_code" in report.problems[0].message


def test_paths_compare_bytewise_on_postgresql(ctx):
    from core.db import get_db

    if get_db().engine.dialect.name != "postgresql":
        pytest.skip("SQLite compares text bytewise already")
    from sqlalchemy import text

    collation = session().execute(text(
        "SELECT collation_name FROM information_schema.columns "
        "WHERE table_name = 'units' AND column_name = 'path'")).scalar()
    assert collation == "C"


def test_reimport_may_change_a_level_only_between_parent_and_children(ctx, world):
    # sa-pa (district) has no children; lao-cai (province) has sa-pa below it.
    ok = import_units(session(), (HEADER + "sa-pa,Thị đoàn Sa Pa,grassroots,lao-cai\n").encode())
    assert ok.ok and ok.updated == 1
    session().rollback()
    bad = import_units(session(), (HEADER + "lao-cai,Tỉnh đoàn,district,tw\n").encode())
    assert not bad.ok and "cannot sit above sa-pa" in str(bad.problems[0])
