"""Rules for the org tree: levels, creating units, subtree queries and CSV import."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from core.db import utcnow
from core.errors import ServiceError
from core.text import nfc
from tenants.models import Unit, UnitLevel

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
# First path segments the app itself uses; a unit code may not shadow them.
RESERVED_CODES = frozenset(
    {"admin", "api", "login", "logout", "static", "vendor", "socket.io", "lang", "health",
     "units", "me", "projector", "new-event", "modules", "p", "favicon.ico"}
)


def ensure_levels(db: Session, levels: Iterable[tuple[str, str]]) -> list[UnitLevel]:
    """Create the configured level types if the table is empty; never rewrite existing ones."""
    existing = list(db.scalars(select(UnitLevel).order_by(UnitLevel.rank)))
    if existing:
        return existing
    created = [UnitLevel(code=c, name=n, rank=i) for i, (c, n) in enumerate(levels)]
    db.add_all(created)
    db.flush()
    return created


def level_by_code(db: Session) -> dict[str, UnitLevel]:
    return {lvl.code: lvl for lvl in db.scalars(select(UnitLevel))}


def subtree_bounds(unit: Unit) -> tuple[str, str]:
    """[low, high) of the paths under `unit`: '/1/7/' .. '/1/70' ('0' follows '/' in ASCII)."""
    return unit.path, unit.path[:-1] + "0"


def subtree_filter(unit: Unit, column=Unit.path):
    low, high = subtree_bounds(unit)
    return (column >= low) & (column < high)


def descendants(db: Session, unit: Unit, *, include_self: bool = True) -> list[Unit]:
    stmt = select(Unit).where(subtree_filter(unit)).order_by(Unit.path)
    if not include_self:
        stmt = stmt.where(Unit.id != unit.id)
    return list(db.scalars(stmt))


def count_descendants(db: Session, unit: Unit) -> int:
    return db.scalar(select(func.count()).select_from(Unit).where(subtree_filter(unit))) - 1


def children(db: Session, unit: Unit) -> list[Unit]:
    return list(db.scalars(select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.name)))


def ancestors(db: Session, unit: Unit) -> list[Unit]:
    ids = [int(p) for p in unit.path.strip("/").split("/")[:-1]]
    if not ids:
        return []
    by_id = {u.id: u for u in db.scalars(select(Unit).where(Unit.id.in_(ids)))}
    return [by_id[i] for i in ids]


def is_above(upper: Unit, lower: Unit) -> bool:
    """Strictly above."""
    return upper.id != lower.id and lower.path.startswith(upper.path)


def check_code(code: str) -> str | None:
    """A reason the code is unusable, or None."""
    if not CODE_RE.match(code):
        return _("code must be lower-case letters, digits and hyphens (at most 80)")
    if code in RESERVED_CODES:
        return _("code %(code)s is reserved", code=code)
    return None


def _place(db: Session, unit: Unit, parent: Unit | None) -> None:
    """Give a freshly flushed unit its materialized path."""
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    unit.depth = parent.depth + 1 if parent else 0


def create_unit(db: Session, *, code: str, name: str, level: UnitLevel,
                parent: Unit | None) -> Unit:
    code = code.strip().lower()
    name = nfc(name)
    problem = check_code(code)
    if problem:
        raise ServiceError(problem)
    if not name:
        raise ServiceError(_("name is required"))
    if db.scalar(select(Unit.id).where(Unit.code == code)):
        raise ServiceError(_("a unit with code %(code)s already exists", code=code))
    if parent is not None and level.rank <= parent.level.rank:
        raise ServiceError(_("a unit must sit at a lower level than its parent"))
    if parent is None and db.scalar(select(Unit.id).where(Unit.parent_id.is_(None))):
        raise ServiceError(_("the tree already has a root unit"))
    unit = Unit(code=code, name=name, level=level, parent=parent, path=f"tmp-{uuid.uuid4()}")
    db.add(unit)
    db.flush()
    _place(db, unit, parent)
    db.flush()
    return unit


# ---------------------------------------------------------------- CSV import

IMPORT_COLUMNS = ("code", "name", "level", "parent_code")


@dataclass
class ImportProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return _("line %(line)s: %(message)s", line=self.line, message=self.message)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[ImportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def decode_csv(raw: bytes) -> tuple[str | None, list[ImportProblem]]:
    """Decode UTF-8 (with or without BOM); anything else is refused with the first bad line."""
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [ImportProblem(line, _("the file is not UTF-8 text; save it as "
                                            "CSV UTF-8 and try again"))]


def import_units(db: Session, raw: bytes) -> ImportReport:
    """Load units from CSV (code,name,level,parent_code), all or nothing.

    Rows may come in any order; parents may be in the file or already in the database. Every
    problem is reported with its line number and nothing is written when there is any.
    Re-importing a file updates names and levels (a level still has to sit between the
    parent's and the children's) and changes nothing else; it never moves a unit.
    """
    report = ImportReport()
    text, report.problems = decode_csv(raw)
    if text is None:
        return report
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        report.problems.append(ImportProblem(1, _("the file is empty")))
        return report
    missing = [c for c in IMPORT_COLUMNS if c not in header]
    if missing:
        report.problems.append(ImportProblem(
            1, _("missing columns: %(cols)s", cols=", ".join(missing))))
        return report
    idx = {c: header.index(c) for c in IMPORT_COLUMNS}
    levels = level_by_code(db)
    rows: dict[str, dict] = {}
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))
        code = row[idx["code"]].strip().lower()
        name = nfc(row[idx["name"]])
        level = row[idx["level"]].strip()
        parent = row[idx["parent_code"]].strip().lower()
        bad = False
        if not code:
            report.problems.append(ImportProblem(line_no, _("code is empty")))
            continue
        if (reason := check_code(code)) is not None:
            report.problems.append(ImportProblem(line_no, reason))
            bad = True
        if code in rows:
            report.problems.append(ImportProblem(
                line_no, _("duplicate code %(code)s (first on line %(first)s)",
                           code=code, first=rows[code]["line"])))
            continue
        if not name:
            report.problems.append(ImportProblem(line_no, _("name is empty")))
            bad = True
        if level not in levels:
            report.problems.append(ImportProblem(
                line_no, _("unknown level %(level)s (known: %(known)s)",
                           level=level, known=", ".join(levels))))
            bad = True
        rows[code] = {"line": line_no, "name": name, "level": level, "parent": parent or None,
                      "bad": bad}
    existing = {u.code: u for u in db.scalars(select(Unit))}
    roots_in_db = [u for u in existing.values() if u.parent_id is None]
    for code, r in rows.items():
        parent = r["parent"]
        if parent is None:
            other_roots = [u for u in roots_in_db if u.code != code]
            if other_roots:
                report.problems.append(ImportProblem(
                    r["line"], _("no parent_code, but the tree already has the root %(root)s",
                                 root=other_roots[0].code)))
            continue
        if parent not in rows and parent not in existing:
            report.problems.append(ImportProblem(
                r["line"], _("unknown parent %(parent)s", parent=parent)))
            continue
        if code in existing:
            old = existing[code]
            old_parent = old.parent.code if old.parent else None
            if old_parent != parent:
                report.problems.append(ImportProblem(
                    r["line"], _("%(code)s already sits under %(old)s; import does not move "
                                 "units", code=code, old=old_parent or "-")))
                continue
        parent_level = (rows[parent]["level"] if parent in rows
                        else existing[parent].level.code)
        if (r["level"] in levels and parent_level in levels
                and levels[r["level"]].rank <= levels[parent_level].rank):
            report.problems.append(ImportProblem(
                r["line"], _("level %(level)s cannot sit under %(parent_level)s",
                             level=r["level"], parent_level=parent_level)))
    # A unit whose level changes must stay above its children that the file does not list.
    kids: dict[int, list[Unit]] = {}
    for u in existing.values():
        if u.parent_id is not None:
            kids.setdefault(u.parent_id, []).append(u)
    for code, r in rows.items():
        old = existing.get(code)
        if old is None or r["level"] not in levels or old.level.code == r["level"]:
            continue
        for child in kids.get(old.id, []):
            if child.code not in rows and child.level.rank <= levels[r["level"]].rank:
                report.problems.append(ImportProblem(
                    r["line"], _("level %(level)s cannot sit above %(child)s (%(child_level)s)",
                                 level=r["level"], child=child.code,
                                 child_level=child.level.code)))
                break
    roots_in_file = [c for c, r in rows.items() if r["parent"] is None]
    if len(roots_in_file) > 1:
        for c in roots_in_file[1:]:
            report.problems.append(ImportProblem(
                rows[c]["line"], _("a second root unit (the tree has one root)")))
    # Cycles: follow parents inside the file; a chain that comes back is a loop.
    for code, r in rows.items():
        seen = {code}
        cur = r["parent"]
        while cur in rows:
            if cur in seen:
                report.problems.append(ImportProblem(
                    r["line"], _("the parents of %(code)s form a cycle", code=code)))
                break
            seen.add(cur)
            cur = rows[cur]["parent"]
    if report.problems or any(r["bad"] for r in rows.values()):
        report.problems.sort(key=lambda p: p.line)
        return report

    # Existing units: names and levels may change, nothing else.
    for code, r in rows.items():
        if code in existing:
            unit = existing[code]
            if unit.name != r["name"] or unit.level.code != r["level"]:
                unit.name = r["name"]
                unit.level = levels[r["level"]]
                report.updated += 1
            else:
                report.unchanged += 1
    db.flush()
    # New units, one depth at a time with bulk statements: the parents' paths are known when
    # their children go in, and a national tree (~50,000 units) loads in seconds, not minutes.
    placed = {code: (u.id, u.path, u.depth) for code, u in existing.items()}
    pending = [c for c in rows if c not in existing]
    while pending:
        ready = [c for c in pending if rows[c]["parent"] is None or rows[c]["parent"] in placed]
        if not ready:  # validation rules this out; never spin on a bad tree
            raise RuntimeError("import_units: rows left whose parents are never placed")
        new_ids = db.execute(
            insert(Unit).returning(Unit.id, Unit.code, sort_by_parameter_order=True),
            [{"code": c, "name": rows[c]["name"], "level_id": levels[rows[c]["level"]].id,
              "parent_id": placed[rows[c]["parent"]][0] if rows[c]["parent"] else None,
              "path": f"tmp-{uuid.uuid4()}", "depth": 0, "created_at": utcnow()}
             for c in ready],
        ).all()
        updates = []
        for unit_id, code in new_ids:
            parent = placed.get(rows[code]["parent"]) if rows[code]["parent"] else None
            path = f"{parent[1] if parent else '/'}{unit_id}/"
            depth = parent[2] + 1 if parent else 0
            placed[code] = (unit_id, path, depth)
            updates.append({"id": unit_id, "path": path, "depth": depth})
        db.execute(update(Unit), updates)
        report.created += len(ready)
        ready_set = set(ready)
        pending = [c for c in pending if c not in ready_set]
    return report
