"""Accounts: passwords, sign-in, and single-use links to set a password."""

from __future__ import annotations

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..audit import record
from ..errors import ValidationFailed
from ..extensions import db
from ..mail import send_mail
from ..models import Role, User

MIN_PASSWORD = 10
RESET_MAX_AGE = 60 * 60 * 2  # two hours for a reset
INVITE_MAX_AGE = 60 * 60 * 24 * 14  # two weeks for an invitation


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def authenticate(email: str, password: str) -> User:
    user = find_user(email)
    if (
        user is None
        or not user.password_hash
        or not check_password_hash(user.password_hash, password)
    ):
        raise ValidationFailed([(None, "That email and password do not match an account.")])
    # Organizers and board members act for a community: their sign-ins are on its record.
    for community_id in sorted(
        {m.community_id for m in user.memberships if m.role in (Role.ORGANIZER, Role.BOARD)}
    ):
        record("login", f"user:{user.id}", actor_id=user.id, community_id=community_id)
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed([("password", f"Use at least {MIN_PASSWORD} characters.")])
    user.password_hash = generate_password_hash(password)
    record("password.set", f"user:{user.id}", actor_id=user.id)


def change_password(user: User, current: str, new: str) -> None:
    if not user.password_hash or not check_password_hash(user.password_hash, current):
        raise ValidationFailed([("current_password", "This is not your current password.")])
    set_password(user, new)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-link")


def password_token(user: User) -> str:
    # The current hash is part of the token, so a link stops working once it was used.
    return _serializer().dumps({"u": user.id, "h": (user.password_hash or "")[-12:]})


def user_from_token(token: str, max_age: int = INVITE_MAX_AGE) -> User:
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise ValidationFailed([(None, "This link has expired. Ask for a new one.")]) from None
    except BadSignature:
        raise ValidationFailed([(None, "This link is not valid.")]) from None
    user = db.session.get(User, data.get("u"))
    if user is None or (user.password_hash or "")[-12:] != data.get("h"):
        raise ValidationFailed([(None, "This link was already used. Ask for a new one.")])
    return user


def send_password_link(user: User, *, invitation: str | None = None) -> None:
    link = url_for("auth.set_password_view", token=password_token(user), _external=True)
    if invitation:
        subject = f"You are invited to {invitation} on commonpot"
        body = (
            f"Hello {user.name},\n\nYou have been invited to {invitation}.\n"
            f"Choose your password here (valid two weeks):\n{link}\n"
        )
    else:
        subject = "Reset your commonpot password"
        body = (
            f"Hello {user.name},\n\nSomeone asked to reset your password. If it was you, "
            f"choose a new one here (valid two hours):\n{link}\n\n"
            "If it was not you, ignore this message.\n"
        )
    send_mail(user.email, subject, body)


def request_reset(email: str) -> None:
    """Always looks the same to the caller, so nobody can probe which emails have accounts."""
    user = find_user(email)
    if user is not None:
        send_password_link(user)
        record("password.reset_requested", f"user:{user.id}")
