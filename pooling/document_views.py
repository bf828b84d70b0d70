"""The documents page: generate (as a background job), sign one by one or all, accept terms,
correct by a new version, download any version; the job's progress; the signing authority.

Who sees what: organizers and the board see every document of the round; a project lead
sees their own term sheets; everyone in the community sees them all once approved.
"""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, url_for
from flask_login import current_user

from commonpot.extensions import db
from commonpot.models import Community, FundingRound, Role, RoundStatus
from commonpot.web import attempt, requires, round_or_404

from . import approval, authority, issuing, jobs
from .forms import ActionForm, AuthorityForm, CorrectionForm, SignForm
from .models import Document, DocumentKind, Job
from .views import bp

PUBLISHED = (RoundStatus.APPROVED, RoundStatus.SETTLED)


def _staff(community: Community) -> bool:
    return current_user.has_role(community.id, Role.ORGANIZER, Role.BOARD)


def _may_read(community: Community, funding_round: FundingRound, document: Document) -> bool:
    return (
        _staff(community)
        or funding_round.status in PUBLISHED
        or document.lead_id == current_user.id
    )


def _document_or_404(funding_round: FundingRound, document_id: int) -> Document:
    document = db.session.get(Document, document_id)
    if document is None or document.round_id != funding_round.id:
        abort(404)
    return document


def _own_key(form: SignForm) -> authority.OwnKey | None:
    if not form.p12.data:
        return None
    return authority.OwnKey(form.p12.data.read(), form.password.data or "")


def _page(community: Community, funding_round: FundingRound, failed: tuple | None = None):
    """The page; ``failed`` is (form key, form) of a refused form, shown with its errors."""
    versions = issuing.versions_of(funding_round)
    if not _staff(community) and funding_round.status not in PUBLISHED:
        versions = {
            slot: docs
            for slot, docs in versions.items()
            if any(d.lead_id == current_user.id for d in docs)
        }
        if not versions:
            abort(403)  # residents see the documents once the board has approved them
    slots = sorted(
        versions.values(),
        key=lambda docs: (docs[0].kind != DocumentKind.REPORT, docs[0].project_id or 0),
    )
    current = [docs[0] for docs in slots if docs[0].current]
    unsigned_by_me = [
        d
        for d in current
        if not any(s.user_id == current_user.id and s.role.value == "board" for s in d.signatures)
        and not d.recuses(current_user.id)
    ]
    board = issuing.board_of(community)
    job = jobs.latest_job(funding_round)
    stale = job is not None and jobs.is_stale(job)
    forms = {"failed": failed}
    status = 422 if failed else 200
    return render_template(
        "pooling/documents.html",
        round=funding_round,
        slots=slots,
        current=current,
        unsigned_by_me=unsigned_by_me,
        board=board,
        recused=[d for d in current if d.recuses(current_user.id)],
        short=approval.short_of_signers(current, board, community.quorum),
        job=job,
        stale=stale,
        locked=any(d.signatures for docs in slots for d in docs),
        forms=forms,
        SignForm=SignForm,
        CorrectionForm=CorrectionForm,
    ), status


def _back(community: Community, funding_round: FundingRound):
    return redirect(url_for("pooling.documents", slug=community.slug, round_id=funding_round.id))


def _signed(community: Community, funding_round: FundingRound, message: str):
    flash(message, "success")
    if funding_round.status == RoundStatus.APPROVED:
        flash("Quorum reached: the round is approved.", "success")
    return _back(community, funding_round)


@bp.get("/c/<slug>/rounds/<int:round_id>/documents")
@requires(Role.ORGANIZER, Role.BOARD, Role.RESIDENT)
def documents(community: Community, round_id: int):
    return _page(community, round_or_404(community, round_id))


@bp.post("/c/<slug>/rounds/<int:round_id>/documents/generate")
@requires(Role.ORGANIZER)
def generate(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    form = ActionForm()
    if form.validate_on_submit():
        job = attempt(form, jobs.start_generation, funding_round, actor=current_user)
        for message in form.form_errors:
            flash(message, "error")
        if job:
            flash("Making the documents: the page shows how far it got.", "success")
    return _back(community, funding_round)


@bp.get("/c/<slug>/rounds/<int:round_id>/jobs/<int:job_id>")
@requires(Role.ORGANIZER, Role.BOARD)
def job_status(community: Community, round_id: int, job_id: int):
    """A job's progress as JSON, for the page's script (any app process can answer)."""
    funding_round = round_or_404(community, round_id)
    job = db.session.get(Job, job_id)
    if job is None or job.round_id != funding_round.id:
        abort(404)
    return jsonify(
        id=job.id,
        kind=job.kind.value,
        status=job.status.value,
        done=job.done,
        total=job.total,
        percent=job.percent,
        error=job.error or None,
    )


@bp.post("/c/<slug>/rounds/<int:round_id>/documents/sign")
@requires(Role.BOARD)
def sign(community: Community, round_id: int):
    """Sign every current document the member has not signed yet."""
    funding_round = round_or_404(community, round_id)
    form = SignForm()
    if form.validate_on_submit():
        count = attempt(form, approval.sign_round, funding_round, current_user, own=_own_key(form))
        if count:
            return _signed(community, funding_round, f"You signed {count} documents.")
    return _page(community, funding_round, ("sign-all", form))


@bp.post("/c/<slug>/rounds/<int:round_id>/documents/<int:document_id>/sign")
@requires(Role.BOARD)
def sign_document(community: Community, round_id: int, document_id: int):
    funding_round = round_or_404(community, round_id)
    document = _document_or_404(funding_round, document_id)
    form = SignForm()
    if form.validate_on_submit():
        signed = attempt(form, approval.sign_document, document, current_user, own=_own_key(form))
        if signed:
            return _signed(community, funding_round, f"You signed {signed.filename}.")
    return _page(community, funding_round, (f"sign-{document_id}", form))


@bp.post("/c/<slug>/rounds/<int:round_id>/documents/<int:document_id>/accept")
@requires(Role.RESIDENT, Role.ORGANIZER, Role.BOARD)
def accept_terms(community: Community, round_id: int, document_id: int):
    """The project lead signs their term sheet to accept its terms."""
    funding_round = round_or_404(community, round_id)
    document = _document_or_404(funding_round, document_id)
    if document.lead_id != current_user.id:
        abort(403)
    form = SignForm()
    if form.validate_on_submit():
        accepted = attempt(form, approval.accept_terms, document, current_user, own=_own_key(form))
        if accepted:
            flash("You accepted the terms: your signature is on the term sheet.", "success")
            return _back(community, funding_round)
    return _page(community, funding_round, (f"accept-{document_id}", form))


@bp.post("/c/<slug>/rounds/<int:round_id>/documents/<int:document_id>/versions")
@requires(Role.ORGANIZER)
def new_version(community: Community, round_id: int, document_id: int):
    """Correct a document: its next version is made in the background, with the reason."""
    funding_round = round_or_404(community, round_id)
    document = _document_or_404(funding_round, document_id)
    form = CorrectionForm()
    if form.validate_on_submit():
        job = attempt(form, jobs.start_new_version, document, form.reason.data, actor=current_user)
        if job:
            flash("Making the new version: the page shows when it is ready.", "success")
            return _back(community, funding_round)
    return _page(community, funding_round, (f"correct-{document_id}", form))


@bp.get("/c/<slug>/rounds/<int:round_id>/documents/<int:document_id>/<filename>")
@requires(Role.ORGANIZER, Role.BOARD, Role.RESIDENT)
def download(community: Community, round_id: int, document_id: int, filename: str):
    """Any version, current or superseded, exactly as it stands."""
    funding_round = round_or_404(community, round_id)
    document = _document_or_404(funding_round, document_id)
    if document.filename != filename:
        abort(404)
    if not _may_read(community, funding_round, document):
        abort(403)
    return (
        document.pdf,
        200,
        {
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="{document.filename}"',
            "X-Content-SHA256": document.sha256,
        },
    )


@bp.route("/c/<slug>/authority", methods=["GET", "POST"])
@requires(Role.ORGANIZER)
def signing_authority(community: Community):
    """The community's signing authority; the board may bring its own (PKCS#12)."""
    form = AuthorityForm()
    if form.validate_on_submit():
        brought = attempt(
            form,
            authority.bring_authority,
            community,
            form.p12.data.read(),
            form.password.data or "",
            actor=current_user,
        )
        if brought:
            flash("The board's authority now signs this community's certificates.", "success")
            return redirect(url_for("pooling.signing_authority", slug=community.slug))
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "pooling/authority.html",
        form=form,
        current=authority.describe(community),
        history=authority.history_of(community),
    ), status
