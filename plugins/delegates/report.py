"""The structure report of the credentials committee (báo cáo thẩm tra tư cách đại biểu).

Who is counted (the *base*): people of the event with kind ``delegate`` whose status is
``convened`` or ``approved``. Rejected delegates (credentials not accepted) and replaced
delegates (their alternate is counted instead) are left out and reported as such; guests are
never counted. Every breakdown sums to the base: a missing or unreadable value is a line of its
own ("Không rõ"), never dropped.

Ages are completed years on the reference date: the congress's first day (``event.starts_on``),
or today when the event has no date. The age bands suit the Youth Union, whose members are
16–30 and whose cadres are mostly under 35–40 (``AGE_BANDS``):

    ≤ 30 (union age) · 31–35 · 36–40 · > 40 · date of birth not stated

Figures stay numeric here (percentages rounded to one decimal of the base); the page and the
PDF format them (``format_number``: comma decimals in Vietnamese).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Event
from plugins.delegates.models import Delegate
from plugins.delegates.vietnamese import fold, name_sort_key, nfc

COUNTED_STATUSES = ("convened", "approved")

# (lowest age, highest age, key); None = open end. Ages in completed years.
AGE_BANDS: tuple[tuple[int | None, int | None, str], ...] = (
    (None, 30, "age_upto_30"),
    (31, 35, "age_31_35"),
    (36, 40, "age_36_40"),
    (41, None, "age_over_40"),
)

# Fixed lines: key → (Vietnamese wording of the formal report, English msgid for the page).
LABELS = {
    "unknown": ("Không rõ", _l("Not stated")),
    "male": ("Nam", _l("Male")),
    "female": ("Nữ", _l("Female")),
    "age_upto_30": ("Từ 30 tuổi trở xuống", _l("30 or younger")),
    "age_31_35": ("Từ 31 đến 35 tuổi", _l("31 to 35")),
    "age_36_40": ("Từ 36 đến 40 tuổi", _l("36 to 40")),
    "age_over_40": ("Trên 40 tuổi", _l("Over 40")),
    "age_unknown": ("Không rõ ngày sinh", _l("Date of birth not stated")),
    "kinh": ("Dân tộc Kinh", _l("Kinh")),
    "minorities": ("Dân tộc thiểu số", _l("Ethnic minorities")),
    "no_religion": ("Không theo tôn giáo", _l("No religion")),
    "religious": ("Có tôn giáo", _l("Followers of a religion")),
    "doctorate": ("Tiến sĩ", _l("Doctorate")),
    "master": ("Thạc sĩ", _l("Master's degree")),
    "university": ("Đại học", _l("University degree")),
    "college": ("Cao đẳng", _l("College")),
    "intermediate": ("Trung cấp", _l("Intermediate")),
    "other": ("Trình độ khác", _l("Other")),
    "theory_advanced": ("Cao cấp", _l("Advanced")),
    "theory_intermediate": ("Trung cấp", _l("Intermediate")),
    "theory_elementary": ("Sơ cấp", _l("Elementary")),
    "theory_none": ("Chưa qua đào tạo", _l("No training")),
    "theory_other": ("Khác", _l("Other")),
    "party": ("Đảng viên", _l("Party members")),
    "not_party": ("Chưa là đảng viên", _l("Not party members")),
    "elected": ("Đại biểu được bầu", _l("Elected")),
    "ex_officio": ("Đại biểu đương nhiên", _l("Ex officio")),
    "appointed": ("Đại biểu chỉ định", _l("Appointed")),
    "no_group": ("Chưa phân tổ", _l("No group")),
}

# Breakdowns in report order: key → (Vietnamese heading, English msgid).
TITLES = {
    "gender": ("Giới tính", _l("Gender")),
    "age": ("Độ tuổi", _l("Age")),
    "ethnicity": ("Dân tộc", _l("Ethnicity")),
    "religion": ("Tôn giáo", _l("Religion")),
    "education": ("Trình độ chuyên môn", _l("Education")),
    "political_theory": ("Trình độ lý luận chính trị", _l("Political theory")),
    "party": ("Đảng viên", _l("Party membership")),
    "delegate_type": ("Loại đại biểu", _l("Delegate type")),
    "group": ("Tổ thảo luận", _l("Discussion group")),
}

# Folded values that say "none" explicitly (religion, political theory).
NONE_WORDS = {"khong", "khong co", "khong ton giao", "chua", "chua co", "chua qua dao tao",
              "chua dao tao", "none", "no"}


@dataclass(frozen=True)
class Line:
    """One line of a breakdown. `sub` lines detail the group line above them (each ethnic
    minority under "Ethnic minorities") and are not part of the breakdown's sum."""

    key: str          # a LABELS key, or "value" for a value taken from the data
    label: str        # Vietnamese, as the formal report writes it
    count: int
    percent: float    # of the report's total, one decimal
    sub: bool = False

    @property
    def ui_label(self) -> str:
        return str(LABELS[self.key][1]) if self.key in LABELS else self.label

    @property
    def unknown(self) -> bool:
        return self.key in ("unknown", "age_unknown", "no_group")


@dataclass
class Breakdown:
    key: str
    lines: list[Line]

    @property
    def title(self) -> str:
        return TITLES[self.key][0]

    @property
    def ui_title(self) -> str:
        return str(TITLES[self.key][1])

    @property
    def main(self) -> list[Line]:
        return [ln for ln in self.lines if not ln.sub]

    def line(self, key: str, label: str | None = None) -> Line | None:
        for ln in self.lines:
            if ln.key == key and (label is None or ln.label == label):
                return ln
        return None

    def count(self, key: str, label: str | None = None) -> int:
        ln = self.line(key, label)
        return ln.count if ln else 0


@dataclass(frozen=True)
class Person:
    full_name: str
    unit_name: str | None
    birth_date: date
    age: int


@dataclass
class StructureReport:
    event: Event
    reference_date: date          # ages are computed on this day
    dated_from_event: bool        # True: the congress's start date; False: today
    total: int                    # the base: delegates convened or approved
    approved: int                 # … of whom the committee has approved
    convened: int                 # … of whom still awaiting verification
    rejected: int                 # left out: credentials not accepted
    replaced: int                 # left out: replaced by an alternate
    guests: int                   # never counted
    planned: int                  # the event's convened count setting (0 = not set)
    breakdowns: dict[str, Breakdown] = field(default_factory=dict)
    average_age: float | None = None
    ages_known: int = 0
    youngest: list[Person] = field(default_factory=list)
    oldest: list[Person] = field(default_factory=list)
    # Attendance is not known to this module (check-in comes later): None means "not known".
    present: int | None = None

    def __getitem__(self, key: str) -> Breakdown:
        return self.breakdowns[key]


# ---------------------------------------------------------------- helpers

def percent(count: int, total: int) -> float:
    return round(count * 100 / total, 1) if total else 0.0


def age_on(birth: date, day: date) -> int:
    """Completed years on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def age_band(age: int) -> str:
    for low, high, key in AGE_BANDS:
        if (low is None or age >= low) and (high is None or age <= high):
            return key
    raise ValueError(age)  # pragma: no cover - the bands cover every age


def natural_key(text: str) -> tuple:
    """"Tổ 2" before "Tổ 10"."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", fold(text)))


def _clean(value: str | None) -> str:
    return " ".join(nfc(value or "").split())


def _values(raw: list[str]) -> list[tuple[str, int]]:
    """Group free-text values that differ only by case, spacing or tone-mark placement; each
    group shows its most frequent spelling. Largest first, then alphabetical."""
    groups: dict[str, Counter] = {}
    for v in raw:
        groups.setdefault(fold(v), Counter())[v] += 1
    out = [(c.most_common(1)[0][0], sum(c.values())) for c in groups.values()]
    return sorted(out, key=lambda p: (-p[1], natural_key(p[0])))


def education_level(value: str | None) -> str | None:
    """doctorate / master / university / college / intermediate, "other", or None (blank)."""
    text = _clean(value)
    if not text:
        return None
    f = fold(text)
    words = set(re.split(r"[^a-z0-9]+", f))
    if "tien si" in f or words & {"ts", "tskh", "phd"}:
        return "doctorate"
    if "thac si" in f or words & {"ths"}:
        return "master"
    if any(w in f for w in ("dai hoc", "cu nhan", "ky su", "kien truc su", "bac si")) \
            or words & {"dh"}:
        return "university"
    if "cao dang" in f or words & {"cd"}:
        return "college"
    if "trung cap" in f or words & {"tc"}:
        return "intermediate"
    return "other"


def theory_level(value: str | None) -> str | None:
    """theory_advanced / _intermediate / _elementary / _none / _other, or None (blank)."""
    text = _clean(value)
    if not text:
        return None
    f = fold(text)
    if f in NONE_WORDS:
        return "theory_none"
    if "cao cap" in f or "cu nhan" in f:
        return "theory_advanced"
    if "trung cap" in f:
        return "theory_intermediate"
    if "so cap" in f:
        return "theory_elementary"
    return "theory_other"


# ---------------------------------------------------------------- the report

def counted(db: Session, event: Event) -> list[Delegate]:
    """The delegates the report counts: kind delegate, convened or approved."""
    return list(db.scalars(select(Delegate).where(
        Delegate.event_id == event.id, Delegate.kind == "delegate",
        Delegate.status.in_(COUNTED_STATUSES))))


def structure(db: Session, event: Event, today: date | None = None) -> StructureReport:
    """The structure of `event`'s delegates. `today` (default: the server's date) is used
    only when the event has no start date."""
    ref = event.starts_on or today or date.today()
    people = counted(db, event)
    total = len(people)
    statuses = dict(db.execute(
        select(Delegate.status, func.count()).where(
            Delegate.event_id == event.id, Delegate.kind == "delegate")
        .group_by(Delegate.status)).all())
    guests = db.scalar(select(func.count()).select_from(Delegate).where(
        Delegate.event_id == event.id, Delegate.kind == "guest")) or 0
    report = StructureReport(
        event=event, reference_date=ref, dated_from_event=event.starts_on is not None,
        total=total, approved=statuses.get("approved", 0), convened=statuses.get("convened", 0),
        rejected=statuses.get("rejected", 0), replaced=statuses.get("replaced", 0),
        guests=guests, planned=event.convened_count or 0)

    def line(key: str, count: int, label: str | None = None, sub: bool = False) -> Line:
        return Line(key=key, label=label if label is not None else LABELS[key][0],
                    count=count, percent=percent(count, total), sub=sub)

    def fixed(keys: tuple[str, ...], found: Counter, unknown_key: str = "unknown") -> list[Line]:
        lines = [line(k, found[k]) for k in keys]
        if found[None]:
            lines.append(line(unknown_key, found[None]))
        return lines

    def grouped(group_key: str, values: list[str]) -> list[Line]:
        lines = [line(group_key, len(values))]
        lines += [line("value", n, label=v, sub=True) for v, n in _values(values)]
        return lines

    b = report.breakdowns

    # Gender
    genders = Counter(d.gender if d.gender in ("male", "female") else None for d in people)
    b["gender"] = Breakdown("gender", fixed(("male", "female"), genders))

    # Age
    ages: list[tuple[Delegate, int]] = [(d, age_on(d.birth_date, ref))
                                        for d in people if d.birth_date is not None]
    bands = Counter(age_band(a) for _d, a in ages)
    bands[None] = total - len(ages)
    b["age"] = Breakdown("age", fixed(tuple(k for *_r, k in AGE_BANDS), bands, "age_unknown"))
    report.ages_known = len(ages)
    if ages:
        report.average_age = round(sum(a for _d, a in ages) / len(ages), 1)
        latest = max(d.birth_date for d, _a in ages)
        earliest = min(d.birth_date for d, _a in ages)

        def persons(born: date) -> list[Person]:
            found = sorted((d for d, _a in ages if d.birth_date == born),
                           key=lambda d: name_sort_key(d.full_name))
            return [Person(d.full_name, d.unit_name, d.birth_date, age_on(d.birth_date, ref))
                        for d in found]

        report.youngest, report.oldest = persons(latest), persons(earliest)

    # Ethnicity: Kinh, then ethnic minorities (each), then not stated
    eth = [_clean(d.ethnicity) for d in people]
    kinh = sum(1 for e in eth if fold(e) == "kinh")
    minorities = [e for e in eth if e and fold(e) != "kinh"]
    lines = [line("kinh", kinh), *grouped("minorities", minorities)]
    if unknown := sum(1 for e in eth if not e):
        lines.append(line("unknown", unknown))
    b["ethnicity"] = Breakdown("ethnicity", lines)

    # Religion: none, followers (each religion), not stated
    rel = [_clean(d.religion) for d in people]
    believers = [r for r in rel if r and fold(r) not in NONE_WORDS]
    lines = [line("no_religion", sum(1 for r in rel if r and fold(r) in NONE_WORDS)),
             *grouped("religious", believers)]
    if unknown := sum(1 for r in rel if not r):
        lines.append(line("unknown", unknown))
    b["religion"] = Breakdown("religion", lines)

    # Education, highest first; "other" values are listed one by one
    levels = [(education_level(d.education), _clean(d.education)) for d in people]
    found = Counter(k for k, _v in levels)
    lines = [line(k, found[k]) for k in ("doctorate", "master", "university", "college",
                                          "intermediate")]
    if found["other"]:
        lines += grouped("other", [v for k, v in levels if k == "other"])
    if found[None]:
        lines.append(line("unknown", found[None]))
    b["education"] = Breakdown("education", lines)

    # Political theory
    found = Counter(theory_level(d.political_theory) for d in people)
    lines = [line(k, found[k]) for k in ("theory_advanced", "theory_intermediate",
                                          "theory_elementary")]
    if found["theory_other"]:
        lines += grouped("theory_other", [_clean(d.political_theory) for d in people
                                          if theory_level(d.political_theory) == "theory_other"])
    lines.append(line("theory_none", found["theory_none"]))
    if found[None]:
        lines.append(line("unknown", found[None]))
    b["political_theory"] = Breakdown("political_theory", lines)

    # Party membership
    party = Counter({True: "party", False: "not_party"}.get(d.party_member) for d in people)
    b["party"] = Breakdown("party", fixed(("party", "not_party"), party))

    # Delegate type
    kinds = Counter(d.delegate_type if d.delegate_type in ("elected", "ex_officio", "appointed")
                    else None for d in people)
    b["delegate_type"] = Breakdown("delegate_type",
                                   fixed(("elected", "ex_officio", "appointed"), kinds))

    # Discussion group, in natural order
    groups = Counter(_clean(d.group) for d in people)
    named = sorted(((g, n) for g, n in groups.items() if g), key=lambda p: natural_key(p[0]))
    lines = [line("value", n, label=g) for g, n in named]
    if groups[""]:
        lines.append(line("no_group", groups[""]))
    b["group"] = Breakdown("group", lines)

    return report


# ---------------------------------------------------------------- display

def format_number(value: float | int | None, decimals: int = 1, locale: str = "vi") -> str:
    """12.5 → "12,5" in Vietnamese (thousands with "."), "12.5" in English (with ",")."""
    if value is None:
        return ""
    text = f"{value:,.{decimals}f}" if isinstance(value, float) else f"{value:,}"
    if str(locale).startswith("vi"):
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def number_formatter(locale: str):
    """`format_number` bound to a language, for templates: ``num(12.5)`` → "12,5"."""
    def num(value: float | int | None, decimals: int = 1) -> str:
        return format_number(value, decimals, locale)

    return num


def document_date(day: date) -> str:
    """"ngày 05 tháng 3 năm 2027": the day below 10 and the months 1 and 2 take a leading
    zero (Nghị định 30/2020/NĐ-CP on the form of official documents)."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


_UNIT_PREFIXES = ("tinh doan", "thanh doan", "huyen doan", "quan doan", "thi doan",
                  "doan khoi", "doan xa", "doan phuong", "doan thi tran", "doan truong",
                  "doan co so", "doan")


def place_name(event: Event) -> str:
    """The place written before the date: the event's setting ``report_place`` or the unit's
    name without its union prefix ("Tỉnh đoàn Lào Cai" → "Lào Cai")."""
    configured = _clean((event.settings or {}).get("report_place"))
    if configured:
        return configured
    name = _clean(event.unit.name)
    words = name.split()
    for prefix in _UNIT_PREFIXES:
        n = len(prefix.split())
        if fold(" ".join(words[:n])) == prefix and len(words) > n:
            return " ".join(words[n:])
    return name
