"""A realistic demo roster the project makes itself (a user's machine has no sample files)."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
          "Dương", "Lý", "Giàng", "Sùng", "Lò", "Vàng", "Hà", "Triệu", "Lục"]
MIDDLE_M = ["Văn", "Đức", "Minh", "Quốc", "Công", "Hữu", "A", "Thanh"]
MIDDLE_F = ["Thị", "Thu", "Ngọc", "Minh", "Thanh", "Kim", "Hồng", "Phương"]
GIVEN_M = ["Hùng", "Dũng", "Nam", "Tuấn", "Minh", "Hải", "Long", "Sơn", "Phong", "Thắng",
           "Quang", "Trung", "Đạt", "Khải", "Sử", "Páo"]
GIVEN_F = ["Hương", "Lan", "Mai", "Thảo", "Trang", "Linh", "Hà", "Ngọc", "Yến", "Nhung",
           "Dung", "Hoa", "Vân", "Chi", "Mỷ", "Sính"]
ETHNIC = [("Kinh", 60), ("Tày", 7), ("Mông", 8), ("Dao", 6), ("Thái", 5), ("Giáy", 4),
          ("Nùng", 4), ("Hà Nhì", 3), ("Phù Lá", 3)]
RELIGION = [("Không", 88), ("Phật giáo", 5), ("Công giáo", 7)]
UNITS = ["Đoàn Thành phố Lào Cai", "Đoàn Thị xã Sa Pa", "Đoàn Huyện Bát Xát",
         "Đoàn Huyện Bảo Thắng", "Đoàn Huyện Bảo Yên", "Đoàn Huyện Văn Bàn",
         "Đoàn Huyện Bắc Hà", "Đoàn Huyện Mường Khương", "Đoàn Huyện Si Ma Cai",
         "Đoàn Khối các cơ quan tỉnh", "Đoàn Khối Doanh nghiệp tỉnh"]
POSITION = ["Bí thư", "Phó Bí thư", "Ủy viên Ban Thường vụ", "Ủy viên Ban Chấp hành",
            "Đoàn viên"]
EDUCATION = [("Trung cấp", 12), ("Cao đẳng", 15), ("Đại học", 50), ("Thạc sĩ", 18),
             ("Tiến sĩ", 5)]
THEORY = [("", 20), ("Sơ cấp", 20), ("Trung cấp", 40), ("Cao cấp", 20)]
TYPE = [("Được bầu", 80), ("Đương nhiên", 16), ("Chỉ định", 4)]
HEADER = ["Mã đại biểu", "Họ và tên", "Ngày sinh", "Giới tính", "Dân tộc", "Tôn giáo", "Đơn vị",
          "Chức vụ", "Trình độ chuyên môn", "Lý luận chính trị", "Đảng viên", "Loại đại biểu",
          "Tổ thảo luận", "Điện thoại", "Email"]


def _pick(rnd: random.Random, weighted):
    return rnd.choices([v for v, _w in weighted], weights=[w for _v, w in weighted])[0]


def generate_roster(n: int = 300, *, seed: int = 1, guests: int = 0) -> bytes:
    """CSV (UTF-8) in the layout union offices use, with `n` delegates and `guests` guests."""
    rnd = random.Random(seed)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(HEADER)
    groups = max(1, n // 25)
    for i in range(1, n + guests + 1):
        female = rnd.random() < 0.46
        name = " ".join([rnd.choice(FAMILY), rnd.choice(MIDDLE_F if female else MIDDLE_M),
                         rnd.choice(GIVEN_F if female else GIVEN_M)])
        born = date(1986, 1, 1) + timedelta(days=rnd.randrange(0, 20 * 365))
        guest = i > n
        w.writerow([
            f"{'KM' if guest else 'DB'}{i:04d}", name, born.strftime("%d/%m/%Y"),
            "Nữ" if female else "Nam", _pick(rnd, ETHNIC), _pick(rnd, RELIGION),
            rnd.choice(UNITS), rnd.choice(POSITION), _pick(rnd, EDUCATION), _pick(rnd, THEORY),
            "Có" if rnd.random() < 0.7 else "Không",
            "Khách mời" if guest else _pick(rnd, TYPE),
            "" if guest else f"Tổ {(i - 1) % groups + 1}",
            f"09{rnd.randrange(10**7, 10**8)}", f"{'km' if guest else 'db'}{i:04d}@example.vn",
        ])
    return out.getvalue().encode("utf-8")
