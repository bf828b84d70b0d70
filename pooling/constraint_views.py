"""The organizers' constraints page: area shares, dependencies, incompatible groups, the
support threshold, and the volunteer hours each project needs against those offered."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from commonpot.errors import ValidationFailed
from commonpot.extensions import db
from commonpot.models import Community, FundingRound, Role, RoundStatus
from commonpot.web import attempt, requires, round_or_404
from surveys.results import tally

from . import constraints
from .allocation_models import IncompatibleGroup, ProjectDependency
from .constraint_forms import (
    DependencyForm,
    IncompatibleForm,
    ThresholdForm,
    area_shares_form,
)
from .forms import ActionForm
from .hours import hours_by_project
from .terms import funding_of
from .views import bp

PAGE = "/c/<slug>/rounds/<int:round_id>/constraints"


def _page(community: Community, funding_round: FundingRound, *, status: int = 200, **forms):
    """The page with the given forms (as submitted) and fresh ones for the rest."""
    now = constraints.constraints_of(funding_round)
    shares = forms.get("shares")
    if shares is None:
        shares = area_shares_form(funding_round, formdata=None)
        shares.show(now.shares)
    threshold = forms.get("threshold") or ThresholdForm(formdata=None)
    if "threshold" not in forms:
        threshold.min_support.data = now.min_support
    unit = constraints.support_unit(funding_round)
    threshold.min_support.label.text = f"Minimum support ({unit})"
    dependency = forms.get("dependency") or DependencyForm(formdata=None)
    incompatible = forms.get("incompatible") or IncompatibleForm(formdata=None)
    areas = {a.id: a for a in tally(funding_round).areas}
    offered = hours_by_project(funding_round)
    projects = sorted(funding_round.projects, key=lambda p: p.title.lower())
    hours = [(p, funding_of(p).hours_needed, offered.get(p.id, 0)) for p in projects]
    by_area = {
        a.id: [p for p in funding_round.projects if p.priority_area_id == a.id]
        for a in funding_round.priority_areas
    }
    return render_template(
        "pooling/constraints.html",
        round=funding_round,
        now=now,
        locked=constraints.locked_reason(funding_round),
        shares_form=shares,
        threshold_form=threshold,
        dependency_form=dependency.for_round(funding_round),
        incompatible_form=incompatible.for_round(funding_round),
        action_form=ActionForm(),
        ranking=areas,
        by_area=by_area,
        minimums_total=sum(low or 0 for low, _ in shares.bounds(funding_round).values()),
        suggested=bool(forms.get("suggested")),
        unit=unit,
        hours=hours,
        hours_editable=funding_round.status in (RoundStatus.DRAFT, RoundStatus.OPEN),
        percent=constraints.percent,
    ), status


@bp.app_context_processor
def _constraint_helpers() -> dict:
    return {"round_constraints": constraints.summary}


def _back(community: Community, round_id: int, anchor: str):
    url = url_for("pooling.constraints_page", slug=community.slug, round_id=round_id)
    return redirect(f"{url}#{anchor}")


@bp.get(PAGE)
@requires(Role.ORGANIZER)
def constraints_page(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    if request.args.get("suggest") != "ranking":
        return _page(community, funding_round)
    suggestion = constraints.suggested_minimums(funding_round)
    if suggestion is None:
        flash("Nobody has ranked the priority areas yet: there is nothing to suggest.", "info")
        return _page(community, funding_round)
    shares = area_shares_form(funding_round, formdata=None)
    shares.show(constraints.constraints_of(funding_round).shares)
    for area_id, bps in suggestion.items():
        getattr(shares, f"min_{area_id}").data = bps
    return _page(community, funding_round, shares=shares, suggested=True)


@bp.post(f"{PAGE}/shares")
@requires(Role.ORGANIZER)
def constraint_shares(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    form = area_shares_form(funding_round)
    if form.validate_on_submit():
        bounds = form.bounds(funding_round)
        attempt(form, constraints.set_area_shares, funding_round, bounds, actor=current_user)
        if not form.form_errors and not _has_errors(form):
            flash("The area shares are saved.", "success")
            return _back(community, round_id, "shares")
    elif form.is_submitted():
        # Some fields did not parse: still name every other bad value beside its field.
        problems = constraints.check_area_shares(funding_round, form.bounds(funding_round))
        ValidationFailed(problems).apply_to(form)
    return _page(community, funding_round, shares=form, status=422)


def _has_errors(form) -> bool:
    return bool(form.errors or form.minimums.errors or form.maximums.errors)


@bp.post(f"{PAGE}/threshold")
@requires(Role.ORGANIZER)
def constraint_threshold(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    form = ThresholdForm()
    if form.validate_on_submit():
        minimum = form.min_support.data
        attempt(form, constraints.set_min_support, funding_round, minimum, actor=current_user)
        if not form.errors and not form.form_errors:
            flash("The support threshold is saved.", "success")
            return _back(community, round_id, "threshold")
    return _page(community, funding_round, threshold=form, status=422)


@bp.post(f"{PAGE}/dependencies")
@requires(Role.ORGANIZER)
def constraint_dependency(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    form = DependencyForm()
    if form.validate_on_submit():
        added = attempt(
            form,
            constraints.add_dependency,
            funding_round,
            form.project_id.data,
            form.requires_id.data,
            actor=current_user,
        )
        if added:
            flash(
                f"“{added.project.title}” is now funded only with “{added.requires.title}”.",
                "success",
            )
            return _back(community, round_id, "dependencies")
    return _page(community, funding_round, dependency=form, status=422)


@bp.post(f"{PAGE}/dependencies/<int:dependency_id>/delete")
@requires(Role.ORGANIZER)
def constraint_dependency_delete(community: Community, round_id: int, dependency_id: int):
    return _remove(
        community,
        round_id,
        db.session.get(ProjectDependency, dependency_id),
        constraints.remove_dependency,
        "The dependency is removed.",
        "dependencies",
    )


@bp.post(f"{PAGE}/incompatible")
@requires(Role.ORGANIZER)
def constraint_incompatible(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    form = IncompatibleForm()
    if form.validate_on_submit():
        group = attempt(
            form,
            constraints.add_incompatible,
            funding_round,
            list(form.projects.data or []),
            actor=current_user,
        )
        if group:
            flash("The incompatible group is added.", "success")
            return _back(community, round_id, "incompatible")
    return _page(community, funding_round, incompatible=form, status=422)


@bp.post(f"{PAGE}/incompatible/<int:group_id>/delete")
@requires(Role.ORGANIZER)
def constraint_incompatible_delete(community: Community, round_id: int, group_id: int):
    return _remove(
        community,
        round_id,
        db.session.get(IncompatibleGroup, group_id),
        constraints.remove_incompatible,
        "The incompatible group is removed.",
        "incompatible",
    )


def _remove(community: Community, round_id: int, item, remover, done: str, anchor: str):
    """Delete one dependency or group of this round (404 for another round's)."""
    funding_round = round_or_404(community, round_id)
    if item is None or item.round_id != funding_round.id:
        abort(404)
    form = ActionForm()
    if form.validate_on_submit():
        attempt(form, remover, item, actor=current_user)
        for message in form.form_errors:
            flash(message, "error")
        if not form.form_errors:
            flash(done, "success")
    return _back(community, round_id, anchor)
