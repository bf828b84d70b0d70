from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from commonpot.forms import choices
from commonpot.models import Community, Role, RoundStatus
from commonpot.web import attempt, requires, round_or_404

from . import allocation, issuing, pledge_tallies, receivers, verdicts  # noqa: F401
from .forms import ActionForm, AllocateForm, GrantForm, VerifyForm
from .grants import add_grant, grant_restriction, grants_of
from .verification import NotAPdf

bp = Blueprint("pooling", __name__)


@bp.route("/c/<slug>/rounds/<int:round_id>/grants", methods=["GET", "POST"])
@requires(Role.ORGANIZER)
def grants(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    form = GrantForm()
    form.priority_area_id.choices = choices(
        [(0, "Any priority area")] + [(a.id, a.name) for a in funding_round.priority_areas]
    )
    form.projects.choices = choices(
        (p.id, p.title) for p in sorted(funding_round.projects, key=lambda p: p.title.lower())
    )
    if form.validate_on_submit():
        grant = attempt(
            form,
            add_grant,
            funding_round,
            name=form.name.data,
            funder=form.funder.data or "",
            amount_cents=form.amount.data,
            priority_area_id=form.priority_area_id.data or None,
            cap_per_project_cents=form.cap.data,
            project_ids=form.projects.data or None,
            match_percent=form.match_percent.data,
            expires_on=form.expires_on.data,
            actor=current_user,
        )
        if grant:
            flash(f"Added the grant “{grant.name}”.", "success")
            return redirect(url_for("pooling.grants", slug=community.slug, round_id=round_id))
    pool, earmarked, pledgers = pledge_tallies.pledge_totals(funding_round)
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "pooling/grants.html",
        round=funding_round,
        form=form,
        grants=grants_of(funding_round),
        pool=pool,
        earmarked=sum(earmarked.values()),
        pledgers=pledgers,
        restriction=grant_restriction,
    ), status


@bp.route("/c/<slug>/rounds/<int:round_id>/allocation", methods=["GET", "POST"])
@requires(Role.ORGANIZER, Role.BOARD, Role.RESIDENT)
def allocation_view(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    organizer = current_user.has_role(community.id, Role.ORGANIZER)
    form = AllocateForm()
    if form.is_submitted() and not organizer:
        abort(403)
    if form.validate_on_submit():
        run = attempt(
            form,
            allocation.run_allocation,
            funding_round,
            form.rule.data,
            completion=form.completion.data,
            actor=current_user,
        )
        if run:
            flash(
                f"Allocation done ({allocation.RULES[run.rule]}, solver: {run.solver_status}).",
                "success",
            )
            return redirect(
                url_for("pooling.allocation_view", slug=community.slug, round_id=round_id)
            )
        for message in form.form_errors:
            flash(message, "error")
    run = allocation.chosen_run(funding_round)
    if run is not None and not form.is_submitted():  # the form starts from the run shown
        form.rule.data = run.rule
        form.completion.data = run.completion or allocation.DEFAULT_COMPLETION
    status = 422 if form.is_submitted() and (form.errors or form.form_errors) else 200
    staff = organizer or current_user.has_role(community.id, Role.BOARD)
    if not staff and funding_round.status not in (RoundStatus.APPROVED, RoundStatus.SETTLED):
        abort(403)  # residents see the allocation once the board has approved it
    if run is None and not organizer:
        abort(404)
    return render_template(
        "pooling/allocation.html",
        round=funding_round,
        form=form,
        run=run,
        table=allocation.plan_table(run) if run else None,
        locked=allocation.is_locked(funding_round),
        documents=issuing.documents_of(funding_round),
        action_form=ActionForm(),
        completions=allocation.COMPLETIONS,
        rules=allocation.RULES,
    ), status


@bp.route("/verify", methods=["GET", "POST"])
def verify():
    """Anyone can check a signed document: signatures intact, trusted, and issued by us."""
    form = VerifyForm()
    finding = None
    if form.validate_on_submit():
        try:
            finding = verdicts.check_file(form.pdf.data.read())
        except NotAPdf:
            form.pdf.errors = ["This file is not a PDF."]
    status = 422 if form.errors else 200
    return render_template("pooling/verify.html", form=form, finding=finding), status


from . import comparison_views as _comparison_views  # noqa: E402, F401
from . import constraint_views as _constraint_views  # noqa: E402, F401
from . import document_views, pledge_views  # noqa: E402, F401
from . import treasury_views as _treasury_views  # noqa: E402, F401
