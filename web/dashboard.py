"""The first page: what waits for a decision (riskiest first) and what happened lately."""

from __future__ import annotations

from flask import Blueprint, render_template

from keywatch import events

from . import RISK_ORDER
from .auth import login_required
from .db import get_config, get_review, get_store

bp = Blueprint("dashboard", __name__)

RECENT_EVENTS = 25


def by_risk(proposals: list) -> list:
    """Riskiest first; within a level, the oldest first (it has waited longest)."""
    return sorted(proposals, key=lambda p: (RISK_ORDER.get(p.risk_level, len(RISK_ORDER)), p.created, p.id))


@bp.route("/")
@login_required
def index():
    pending = by_risk(get_review().list("open"))
    recent = events.query(get_store().conn, limit=RECENT_EVENTS)
    return render_template("dashboard/index.html", pending=pending, events=recent, upstreams=get_config().upstreams)
