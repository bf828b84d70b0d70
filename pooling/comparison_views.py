"""The comparison page: the rules side by side on one snapshot of a round, and using one
of the compared results as the round's allocation.

Organizers run comparisons and pick a result. Board members may read the comparison:
they sign the allocation report, and seeing what the other rules would have funded is
part of judging the organizers' choice (the page holds no resident's data, only counts).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from commonpot.models import Community, Role
from commonpot.web import attempt, requires, round_or_404

from . import allocation, comparison
from .forms import ActionForm, CompareForm
from .views import bp

COMPARE = "/c/<slug>/rounds/<int:round_id>/allocation/compare"


@bp.route(COMPARE, methods=["GET", "POST"])
@requires(Role.ORGANIZER, Role.BOARD)
def compare(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    organizer = current_user.has_role(community.id, Role.ORGANIZER)
    form = CompareForm()
    if form.is_submitted() and not organizer:
        abort(403)
    if form.validate_on_submit():
        done = attempt(
            form,
            comparison.compare_rules,
            funding_round,
            form.completion.data,
            actor=current_user,
        )
        if done:
            flash("The rules ran side by side; the round's allocation has not changed.", "success")
            return redirect(url_for("pooling.compare", slug=community.slug, round_id=round_id))
    latest = comparison.latest_comparison(funding_round)
    if latest is not None and not form.is_submitted():
        form.completion.data = latest.completion
    columns, rows = comparison.comparison_table(latest) if latest else ([], [])
    status = 422 if form.is_submitted() and (form.errors or form.form_errors) else 200
    return render_template(
        "pooling/compare.html",
        round=funding_round,
        form=form,
        comparison=latest,
        columns=columns,
        rows=rows,
        chosen=allocation.chosen_run(funding_round),
        locked=allocation.is_locked(funding_round),
        completions=allocation.COMPLETIONS,
        action_form=ActionForm(),
    ), status


@bp.post(f"{COMPARE}/runs/<int:run_id>/use")
@requires(Role.ORGANIZER)
def use_compared(community: Community, round_id: int, run_id: int):
    funding_round = round_or_404(community, round_id)
    form = ActionForm()
    if form.validate_on_submit():
        run = attempt(form, comparison.use_compared_run, funding_round, run_id, actor=current_user)
        for message in form.form_errors:
            flash(message, "error")
        if run:
            flash(
                f"The round's allocation is now the {allocation.RULES[run.rule]} result.",
                "success",
            )
            return redirect(
                url_for("pooling.allocation_view", slug=community.slug, round_id=round_id)
            )
    return redirect(url_for("pooling.compare", slug=community.slug, round_id=round_id))
