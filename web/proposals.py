"""Proposals: the evidence, the risk, the checklist, and the decision.

The decision forms post the digest of the keyring content the reviewer was
shown; the library refuses an approval of anything else (the proposal changed
or was superseded meanwhile). Every refusal by the library's policy is shown
to the reviewer as it is worded there.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from keywatch.errors import KeywatchError, NotFound
from keywatch.keyview import CertificateReader, describe
from keywatch.proposals import ReviewError
from keywatch.types import now_ts

from .auth import login_required
from .dashboard import by_risk
from .db import get_review, get_store
from .keys import trust_settings

bp = Blueprint("proposals", __name__, url_prefix="/proposals")

STATES = ("open", "applied", "rejected", "superseded")
MAX_COMMENT = 4000
# Evidence sections with a view of their own; anything else is shown as data.
KNOWN_EVIDENCE = ("events", "releases", "signer")


@bp.route("/")
@login_required
def index():
    state = request.args.get("state")
    if state not in STATES:
        state = None
    found = get_review().list(state)
    return render_template("proposals/index.html", proposals=by_risk(found) if state == "open" else found,
                           state=state, states=STATES)


def _load(proposal_id: int):
    try:
        return get_review().get(proposal_id)
    except NotFound:
        abort(404, description=f"There is no proposal {proposal_id}.")


def _added_keys(proposal) -> list[dict]:
    """A summary of each key the proposal adds, as of now (what the reviewer is asked to trust)."""
    reader = CertificateReader(get_store())
    now = now_ts()
    summaries = []
    for fpr in proposal.diff.get("added", []):
        try:
            summaries.append(describe(reader, fpr, now))
        except KeywatchError:
            summaries.append({"fingerprint": fpr, "missing": True})
    return summaries


@bp.route("/<int:proposal_id>")
@login_required
def show(proposal_id: int):
    proposal = _load(proposal_id)
    decided = any(d["reviewer"] == g.user.name for d in proposal.decisions)
    extra_evidence = {k: v for k, v in proposal.evidence.items() if k not in KNOWN_EVIDENCE}
    return render_template("proposals/show.html", proposal=proposal, added=_added_keys(proposal),
                           approvals=proposal.approvals_for_digest(), decided=decided,
                           extra_evidence=extra_evidence, paths_from_roots=trust_settings() is not None)


def _decision_form() -> tuple[str, str]:
    digest = request.form.get("digest", "")
    comment = request.form.get("comment", "").strip()
    if len(comment) > MAX_COMMENT:
        comment = None
    return digest, comment


@bp.route("/<int:proposal_id>/approve", methods=("POST",))
@login_required
def approve(proposal_id: int):
    return _decide(proposal_id, "approve")


@bp.route("/<int:proposal_id>/reject", methods=("POST",))
@login_required
def reject(proposal_id: int):
    return _decide(proposal_id, "reject")


def _decide(proposal_id: int, decision: str):
    here = url_for("proposals.show", proposal_id=proposal_id)
    _load(proposal_id)  # 404 for a proposal that does not exist
    if not g.user.can("reviewer"):
        abort(403, description=f"You are signed in as {g.user.name}, a {g.user.role}: only reviewers and admins "
                               "can approve or reject. Nothing was recorded.")
    digest, comment = _decision_form()
    if comment is None:
        flash(f"The comment is too long (at most {MAX_COMMENT} characters). Nothing was recorded.", "error")
        return redirect(here, code=303)
    review = get_review()
    try:
        if decision == "approve":
            result = review.approve(proposal_id, g.user, digest, request.form.getlist("checklist"), comment)
        else:
            result = review.reject(proposal_id, g.user, digest, comment)
    except ReviewError as exc:
        flash(str(exc), "error")
        return redirect(here, code=303)
    except KeywatchError as exc:  # e.g. the keyring cannot be read or written: said plainly, nothing recorded
        flash(f"Nothing was recorded: {exc}", "error")
        return redirect(here, code=303)
    if decision == "reject":
        flash(f"You rejected proposal {proposal_id}.", "success")
    elif result.state == "applied":
        flash(f"You approved proposal {proposal_id}. That was the last approval needed: the keyring of "
              f"{result.upstream} has been written.", "success")
    else:
        flash(f"You approved proposal {proposal_id}. It has {len(result.approvals_for_digest())} of "
              f"{result.required_approvals} approvals.", "success")
    return redirect(here, code=303)
