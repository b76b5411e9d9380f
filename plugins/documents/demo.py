"""The demo congress's documents: a short draft political report, printed here as a PDF."""

from __future__ import annotations

from html import escape

from core.db import session, utcnow
from core.documents import render_pdf

SECTIONS = [
    ("Phần I. Kết quả thực hiện Nghị quyết Đại hội nhiệm kỳ 2022 – 2027", [
        "Nhiệm kỳ qua, các cấp bộ Đoàn trong tỉnh đã bám sát sự lãnh đạo của cấp ủy Đảng, "
        "tổ chức nhiều phong trào thiết thực, thu hút đông đảo đoàn viên, thanh niên tham gia.",
        "Công tác giáo dục chính trị, tư tưởng được đổi mới theo hướng ứng dụng chuyển đổi số; "
        "98% đoàn viên được học tập các bài học lý luận chính trị.",
        "Phong trào “Thanh niên tình nguyện” và “Tuổi trẻ sáng tạo” tiếp tục là điểm sáng, "
        "với hơn 1.200 công trình, phần việc thanh niên được thực hiện.",
    ]),
    ("Phần II. Hạn chế, nguyên nhân và bài học kinh nghiệm", [
        "Một số cơ sở Đoàn ở vùng sâu, vùng xa còn khó khăn về nguồn lực; sinh hoạt chi đoàn "
        "có nơi chưa đều đặn, nội dung chưa hấp dẫn.",
        "Việc thẩm tra, đánh giá chất lượng đoàn viên hằng năm ở một số nơi còn hình thức.",
    ]),
    ("Phần III. Phương hướng, mục tiêu và giải pháp nhiệm kỳ 2027 – 2032", [
        "Mục tiêu tổng quát: xây dựng tổ chức Đoàn vững mạnh, đồng hành cùng thanh niên lập "
        "thân, lập nghiệp, làm chủ khoa học công nghệ và chuyển đổi số.",
        "Phấn đấu 100% cơ sở Đoàn ứng dụng nền tảng số trong quản lý đoàn viên; mỗi năm giới "
        "thiệu ít nhất 1.500 đoàn viên ưu tú cho Đảng xem xét kết nạp.",
        "Đẩy mạnh phong trào khởi nghiệp, hỗ trợ thanh niên dân tộc thiểu số phát triển kinh "
        "tế gắn với du lịch cộng đồng tại Sa Pa, Bát Xát và Bắc Hà.",
    ]),
]

TITLE = "Dự thảo Báo cáo chính trị"


def political_report_pdf() -> bytes:
    """A short draft political report (three parts, numbered paragraphs) as a real PDF."""
    parts, n = [], 0
    for heading, paragraphs in SECTIONS:
        items = []
        for text in paragraphs:
            n += 1
            items.append(f"<p><b>{n}.</b> {escape(text)}</p>")
        parts.append(f"<h2>{escape(heading)}</h2>{''.join(items)}")
    html = f"""<!doctype html><html lang="vi"><head><meta charset="utf-8"><style>
      @page {{ size: A5; margin: 16mm 14mm; @bottom-center {{ content: counter(page); }} }}
      body {{ font-family: "DejaVu Serif", serif; font-size: 11pt; line-height: 1.45; }}
      h1 {{ font-size: 15pt; text-align: center; margin: 0 0 4mm; }}
      .sub {{ text-align: center; font-style: italic; margin-bottom: 8mm; }}
      h2 {{ font-size: 12pt; break-before: page; }}
      h2:first-of-type {{ break-before: auto; }}
      p {{ text-align: justify; margin: 0 0 3mm; }}
    </style></head><body>
    <h1>{escape(TITLE).upper()}</h1>
    <p class="sub">trình Đại hội đại biểu Đoàn TNCS Hồ Chí Minh tỉnh Lào Cai lần thứ XVI,
    nhiệm kỳ 2027 – 2032 (bản dự thảo để đại biểu góp ý)</p>
    {''.join(parts)}</body></html>"""
    return render_pdf(html)


def demo_documents(event, accounts) -> None:
    from plugins.documents.services import create_document

    author = accounts.get("documents") or accounts["organiser"]
    create_document(
        session(), event, actor=author, title=TITLE, category="political_report",
        visibility="delegates", filename="Du thao Bao cao chinh tri.pdf",
        raw=political_report_pdf(), sections="\n".join(h for h, _p in SECTIONS),
        description="Bản dự thảo trình Đại hội. Đại biểu đọc và góp ý theo từng phần.",
        publish_at=utcnow(), note="Bản dự thảo lần 1")
