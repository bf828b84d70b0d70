"""Pabulib files on the web: organizers import a round from one, and download any round as
one (voters under pseudonymous ids)."""

from __future__ import annotations

import hashlib

from flask import Response, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField

from commonpot.errors import DomainError
from commonpot.extensions import db
from commonpot.models import Community, Role
from commonpot.web import requires, round_or_404
from optimizer import PabulibError

from . import pabulib_io
from .views import bp


class PabulibUploadForm(FlaskForm):
    file = FileField("Pabulib file (.pb)", validators=[FileRequired("Choose a .pb file.")])
    submit = SubmitField("Import the round")


@bp.route("/c/<slug>/rounds/import", methods=["GET", "POST"])
@requires(Role.ORGANIZER)
def import_pabulib(community: Community):
    """The web side of `commonpot round import`: the same reader, the same one transaction.

    A malformed file is refused as "NAME: line N: reason" next to the field, nothing saved.
    """
    form = PabulibUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        name = upload.filename or "upload.pb"
        data = upload.read()
        try:
            imported = pabulib_io.import_election(
                community,
                pabulib_io.read_file(data),
                source_name=name,
                sha256=hashlib.sha256(data).hexdigest(),
                actor=current_user,
            )
        except (PabulibError, DomainError) as error:
            db.session.rollback()
            form.file.errors = [f"{name}: {error}"]
        else:
            flash(
                f"Imported {name} as a closed round: {imported.projects} projects, "
                f"{imported.ballots} ballots, {imported.votes} votes.",
                "success",
            )
            return redirect(url_for("rounds.show", slug=community.slug, round_id=imported.round.id))
    status = 422 if form.errors else 200
    return render_template("surveys/import.html", form=form), status


@bp.get("/c/<slug>/rounds/<int:round_id>/export.pb")
@requires(Role.ORGANIZER)
def export_pabulib(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    text = pabulib_io.export_round(funding_round, secret_key=current_app.config["SECRET_KEY"])
    return Response(
        text.encode("utf-8"),
        mimetype="text/plain",
        headers={
            "Content-Disposition": f'attachment; filename="{pabulib_io.file_name(funding_round)}"',
            "Cache-Control": "no-store",
        },
    )
