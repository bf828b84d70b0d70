"""Pabulib download of a round's ballots (organizers only), voters under pseudonymous ids."""

from __future__ import annotations

from flask import Response, current_app

from commonpot.models import Community, Role
from commonpot.web import requires, round_or_404

from . import pabulib_io
from .views import bp


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
