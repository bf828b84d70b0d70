from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from ..extensions import db, login_manager
from ..models import User, utcnow
from ..web import attempt
from . import services, throttle
from .forms import ChangePasswordForm, LoginForm, ResetRequestForm, SetPasswordForm

bp = Blueprint("auth", __name__)


@functools.cache
def _user_with_roles():
    """Built once (statements are costly to build; SQLAlchemy caches their compiled SQL)."""
    return select(User).where(User.id == bindparam("user_id")).options(joinedload(User.memberships))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """With the roles (every page checks them): one query, not two."""
    try:
        wanted = int(user_id)
    except ValueError:
        return None
    found = db.session.execute(_user_with_roles(), {"user_id": wanted})
    return found.unique().scalar_one_or_none()


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/"):
        return target
    return url_for("rounds.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        address = request.remote_addr or "unknown"
        until = throttle.locked_until(form.email.data, address)
        if until is not None:
            minutes = max(1, int((until - utcnow()).total_seconds() // 60) + 1)
            form.form_errors.append(
                f"Too many failed sign-ins. Try again in {minutes} minute"
                f"{'s' if minutes > 1 else ''}, or reset your password."
            )
            return render_template("auth/login.html", form=form), 429
        user = attempt(form, services.authenticate, form.email.data, form.password.data)
        if user is not None:
            throttle.forget_failures(form.email.data)
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        throttle.record_failure(form.email.data, address)
        status = 422
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    form = FlaskForm()
    if form.validate_on_submit():
        logout_user()
    return redirect(url_for("rounds.home"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        done = attempt(
            form,
            lambda: (
                services.change_password(
                    current_user, form.current_password.data, form.password.data
                )
                or True
            ),
        )
        if done:
            flash("Your password was changed.", "success")
            return redirect(url_for("rounds.home"))
    return render_template("auth/change_password.html", form=form)


@bp.route("/password/reset", methods=["GET", "POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_reset(form.email.data)
        flash("If that address has an account, a link to reset the password is on its way.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_request.html", form=form)


@bp.route("/password/set/<token>", methods=["GET", "POST"])
def set_password_view(token: str):
    form = SetPasswordForm()
    user = attempt(form, services.user_from_token, token)
    if user is not None and form.validate_on_submit():
        if attempt(form, lambda: services.set_password(user, form.password.data) or True):
            login_user(user)
            flash("Your password is saved; you are signed in.", "success")
            return redirect(url_for("rounds.home"))
    return render_template("auth/set_password.html", form=form, valid=user is not None)
