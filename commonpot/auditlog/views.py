"""The organizer's audit page: a community's events, filtered and paged, and the chain's state."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from ..audit import seal
from ..audit_checkpoint import verify_for_page
from ..models import Community, Role
from ..web import requires
from . import services
from .forms import AuditFilterForm

bp = Blueprint("auditlog", __name__)
FILTERS = ("action", "actor", "since", "until")  # the query parameters page links keep


@bp.get("/c/<slug>/audit")
@requires(Role.ORGANIZER)
def events(community: Community):
    form = AuditFilterForm(request.args)
    form.validate()
    filters = services.EventFilters(
        action_prefix=form.value("action"),
        actor=form.value("actor"),
        since=form.value("since"),
        until=form.value("until"),
    )
    page = services.page_of_events(community, filters, request.args.get("page", 1, type=int))
    kept = {k: v for k in FILTERS if (v := request.args.get(k, "").strip())}

    def page_url(number: int) -> str:
        return url_for("auditlog.events", slug=community.slug, **kept, page=number)

    # The chain is one for the whole installation; this page names a broken event only when it
    # is one of this community's, and says nothing else about other communities' events.
    seal()  # normally nothing waits; an event whose sealer died is chained now
    chain, walked_at = verify_for_page(full=request.args.get("full") == "1")
    return render_template(
        "auditlog/events.html",
        form=form,
        page=page,
        actors=services.actors_of(page.items),
        pairs=services.data_pairs,
        prefixes=services.action_prefixes(community),
        chain=chain,
        walked_at=walked_at,
        broken_here=chain.broken is not None and chain.broken.community_id == community.id,
        filtered=bool(kept),
        page_url=page_url,
    ), (400 if form.errors else 200)
