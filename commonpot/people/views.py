from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length

from ..extensions import db
from ..forms import choices
from ..models import Community, Membership, Role, User
from ..web import attempt, requires
from . import services

bp = Blueprint("people", __name__)


class InviteForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Email()])
    role = SelectField(
        "Role",
        choices=choices((r.value, r.value.capitalize()) for r in Role),
        default=Role.RESIDENT.value,
    )
    submit = SubmitField("Invite or appoint")


class RevokeForm(FlaskForm):
    submit = SubmitField("Remove")


@bp.route("/c/<slug>/people", methods=["GET", "POST"])
@requires(Role.ORGANIZER)
def people(community: Community):
    form = InviteForm()
    if form.validate_on_submit():
        user = attempt(
            form,
            services.invite,
            community,
            name=form.name.data or "",
            email=form.email.data,
            role=Role(form.role.data),
            actor=current_user,
        )
        if user:
            flash(f"{user.name} is now {form.role.data} in {community.name}.", "success")
            return redirect(url_for("people.people", slug=community.slug))
    members = db.session.execute(
        select(User, Membership.role)
        .join(Membership)
        .where(Membership.community_id == community.id)
        .order_by(User.name)
    ).all()
    by_user: dict[int, tuple[User, list[Role]]] = {}
    for user, role in members:
        by_user.setdefault(user.id, (user, []))[1].append(role)
    staff = [(u, r) for u, r in by_user.values() if set(r) - {Role.RESIDENT}]
    residents = sum(1 for _, r in by_user.values() if Role.RESIDENT in r)
    return render_template(
        "people/people.html", form=form, staff=staff, residents=residents, revoke_form=RevokeForm()
    )


@bp.post("/c/<slug>/people/<int:user_id>/revoke/<role>")
@requires(Role.ORGANIZER)
def revoke(community: Community, user_id: int, role: str):
    user = db.session.get(User, user_id)
    if user is None or role not in {r.value for r in Role}:
        abort(404)
    form = RevokeForm()
    if form.validate_on_submit():
        attempt(form, services.revoke, community, user, Role(role), actor=current_user)
        for message in form.form_errors:
            flash(message, "error")
    return redirect(url_for("people.people", slug=community.slug))
