"""Outgoing mail: SMTP when configured, otherwise printed to the console (the demo)."""

from __future__ import annotations

import smtplib
import sys
from email.message import EmailMessage

from flask import current_app


def send_mail(to: str, subject: str, body: str) -> None:
    cfg = current_app.config
    message = EmailMessage()
    message["From"] = cfg["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if not cfg.get("MAIL_SERVER"):
        print(
            f"--- mail (no MAIL_SERVER set) ---\n{message}\n--- end of mail ---",
            file=sys.stderr,
            flush=True,
        )
        current_app.extensions.setdefault("outbox", []).append(message)
        return
    with smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=20) as smtp:
        if cfg.get("MAIL_USE_TLS"):
            smtp.starttls()
        if cfg.get("MAIL_USERNAME"):
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
        smtp.send_message(message)
