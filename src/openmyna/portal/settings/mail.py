"""Outgoing e-mail through a real SMTP client (smtplib), configured by ``OPENMYNA_SMTP_*``.

Two messages leave the portal: "a notice is waiting" and "verify this address". Neither ever carries a
My Number, a name or a notice's content: only that something waits, and the portal's address.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from openmyna.core.config import Settings
from openmyna.core.errors import DomainError


class MailUnavailable(DomainError):
    slug = "mail-unavailable"
    status = 503
    title_ja = "メールを送信できません"
    title_en = "E-mail cannot be sent"


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


@dataclass(frozen=True)
class Mailer:
    """Sends :class:`Mail` through the configured SMTP server (STARTTLS and login when configured)."""

    settings: Settings

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    def send(self, mails: list[Mail]) -> None:
        """Send every mail on one SMTP connection; raises :class:`MailUnavailable` on any SMTP or network error."""
        if not mails:
            return
        settings = self.settings
        if not settings.smtp_host:
            raise MailUnavailable("no SMTP server is configured (OPENMYNA_SMTP_HOST)")
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls()
                if settings.smtp_username and settings.smtp_password:
                    smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
                for mail in mails:
                    smtp.send_message(self._message(mail))
        except (OSError, smtplib.SMTPException) as exc:
            raise MailUnavailable(f"the SMTP server {settings.smtp_host}:{settings.smtp_port} refused: {exc}") from exc

    def _message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.settings.mail_from.rpartition("@")[2] or None)
        message.set_content(mail.text)
        return message


def portal_url(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def notice_waiting(settings: Settings, *, to: str) -> Mail:
    """ "Something is waiting": no kind, no title, no content, no number; just where to read it."""
    url = portal_url(settings, "/portal/notices")
    text = (
        "マイナポータルに新しいお知らせが届いています。\n"
        f"内容はマイナポータルにログインしてご確認ください。\n{url}\n\n"
        "A new notice is waiting for you on Mynaportal.\n"
        f"Log in to read it:\n{url}\n\n"
        "このメールは送信専用です。/ This address does not receive replies.\n"
    )
    return Mail(to=to, subject="【マイナポータル】新しいお知らせ / A new notice on Mynaportal", text=text)


def verify_address(settings: Settings, *, to: str, link: str, hours: int) -> Mail:
    text = (
        "マイナポータルのメールアドレス登録を完了するには、次のリンクを開いてください"
        f"（{hours}時間有効、1回限り）。\n{link}\n\n"
        f"To confirm this address for Mynaportal, open the link above (valid for {hours} hours, once).\n\n"
        "心当たりがない場合は、このメールを破棄してください。/ If you did not ask for this, ignore this mail.\n"
    )
    return Mail(to=to, subject="【マイナポータル】メールアドレスの確認 / Confirm your e-mail address", text=text)
