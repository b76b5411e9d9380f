"""Units of the union and the level types they sit at.

A unit's `path` is the materialized path of ids from the root ("/1/7/42/"), so "all units
under X" is one indexed range scan and "is X above Y" is a string prefix test, whatever the
depth of the tree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

PATH_TYPE = String(500).with_variant(String(500, collation="C"), "postgresql")


class UnitLevel(Base):
    __tablename__ = "unit_levels"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # 0 is the top (Trung ương); a child's rank is always greater than its parent's.
    rank: Mapped[int] = mapped_column(Integer, unique=True)


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    level_id: Mapped[int] = mapped_column(ForeignKey("unit_levels.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # Byte order ("C" collation) on PostgreSQL: the subtree range relies on '/' sorting just
    # before '0', which a linguistic collation such as en_US.UTF-8 does not guarantee.
    path: Mapped[str] = mapped_column(PATH_TYPE, unique=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    level: Mapped[UnitLevel] = relationship(lazy="joined")
    parent: Mapped[Unit | None] = relationship(remote_side="Unit.id")

    def is_ancestor_or_self_of(self, other: Unit) -> bool:
        return other.path.startswith(self.path)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<Unit {self.code}>"
