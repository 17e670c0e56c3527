"""The audit history, newest first, filterable by action and actor (`keywatch audit verify` checks the chain)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from .auth import login_required
from .db import get_audit

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE = 200
COMMON_ACTIONS = ("approve", "reject", "keyring-write", "proposal-created", "proposal-superseded", "login",
                  "login-failure", "user-add")


@bp.route("/")
@login_required
def index():
    action = request.args.get("action", "").strip()[:64] or None
    actor = request.args.get("actor", "").strip()[:64] or None
    entries = get_audit().entries(action=action, actor=actor, newest_first=True, limit=PAGE)
    return render_template("audit/index.html", entries=entries, action=action, actor=actor, page=PAGE,
                           common_actions=COMMON_ACTIONS)
