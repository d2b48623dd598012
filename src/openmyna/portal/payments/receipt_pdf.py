"""The receipt (領収書) as a PDF, drawn with reportlab: the same facts as the receipt page.

Japanese text uses Debian's IPAex Gothic, embedded as a subset, when it is installed
(``fonts-ipaexfont-gothic``); otherwise reportlab's built-in CID font HeiseiKakuGo-W5, which viewers render
from their own fonts (not embedded).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

IPAEX_GOTHIC = Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")


@dataclass(frozen=True)
class ReceiptFacts:
    receipt_number: str
    payee: str
    purpose: str
    amount: int
    paid_at: str
    method: str
    status: str
    refunds: tuple[tuple[str, int, str], ...]  # (when, amount, reason)


@cache
def _font() -> str:
    """The name of a registered font that draws Japanese."""
    if IPAEX_GOTHIC.exists():
        pdfmetrics.registerFont(TTFont("IPAexGothic", str(IPAEX_GOTHIC)))
        return "IPAexGothic"
    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    return "HeiseiKakuGo-W5"


def render(facts: ReceiptFacts) -> bytes:
    """One A5 page: title, receipt number, the payee's name, amount, purpose, when and how, refunds."""
    buffer = io.BytesIO()
    font = _font()
    width, height = A5
    pdf = canvas.Canvas(buffer, pagesize=A5, pageCompression=1)
    pdf.setTitle(f"領収書 {facts.receipt_number}")
    pdf.setAuthor(facts.payee)
    pdf.setFont(font, 20)
    pdf.drawCentredString(width / 2, height - 25 * mm, "領 収 書")
    pdf.setFont(font, 9)
    pdf.drawRightString(width - 15 * mm, height - 33 * mm, f"領収番号 {facts.receipt_number}")
    pdf.setFont(font, 18)
    pdf.drawCentredString(width / 2, height - 55 * mm, f"¥{facts.amount:,}-")
    pdf.line(30 * mm, height - 58 * mm, width - 30 * mm, height - 58 * mm)
    pdf.setFont(font, 10)
    rows = [
        ("但し", facts.purpose),
        ("支払日時", facts.paid_at),
        ("支払方法", facts.method),
        ("状態", facts.status),
    ]
    y = height - 72 * mm
    for label, value in rows:
        pdf.drawString(18 * mm, y, label)
        pdf.drawString(42 * mm, y, value[:60])
        y -= 8 * mm
    for when, amount, reason in facts.refunds:
        pdf.drawString(18 * mm, y, "返金")
        pdf.drawString(42 * mm, y, f"{when}  ¥{amount:,}  {reason[:30]}")
        y -= 8 * mm
    pdf.drawString(18 * mm, y - 4 * mm, "上記の金額を正に領収いたしました。")
    pdf.setFont(font, 12)
    pdf.drawRightString(width - 15 * mm, 28 * mm, facts.payee)
    pdf.setFont(font, 7)
    pdf.drawString(15 * mm, 12 * mm, "マイナポータル 公金決済（openmyna）")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
