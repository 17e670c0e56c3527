"""Deciding on proposals in the UI: who may, what they must confirm, and what the library refuses."""

from __future__ import annotations

import pysequoia
import pytest

from keywatch.proposals import Review
from keywatch.workspace import Workspace


def proposal(workspace_root, proposal_id=1):
    workspace = Workspace(workspace_root)
    store = workspace.store()
    try:
        return Review(workspace.root, workspace.config(), store, workspace.audit(store)).get(proposal_id)
    finally:
        store.close()


def form(workspace_root, proposal_id=1, **changes) -> dict:
    p = proposal(workspace_root, proposal_id)
    return {"digest": p.digest, "checklist": p.checklist, "comment": "", **changes}


def keyring_fingerprints(workspace_root) -> set[str]:
    data = (workspace_root / "keyrings" / "pkg.keyring").read_bytes()
    return {c.fingerprint.upper() for c in pysequoia.Cert.split_bytes(data)}


def flashed(response) -> str:
    return response.get_data(as_text=True)


def test_the_proposal_page_shows_reasons_picture_evidence_and_checklist(client, auth, keys, workspace_root):
    auth.login("alice")
    page = client.get("/proposals/1").get_data(as_text=True)
    p = proposal(workspace_root)
    assert "high risk" in page and "possible maintainer handover" in page
    assert f'src="/keys/{keys["new"].fingerprint}/paths.svg"' in page
    assert p.digest in page and f'name="digest" value="{p.digest}"' in page
    for item in p.checklist:
        assert item.replace("'", "&#39;") in page
    assert page.count('type="checkbox" name="checklist"') == len(p.checklist)
    assert "0 of 2 approvals" in page
    assert "5.6.0" in page and "5.4.1" in page  # the release → signer history


def test_a_viewer_cannot_approve(client, auth, workspace_root):
    auth.login("vera")
    page = client.get("/proposals/1").get_data(as_text=True)
    assert "approve-form" not in page and "only reviewers and admins decide" in page
    response = auth.post("/proposals/1/approve", form(workspace_root))
    assert response.status_code == 403
    assert "only reviewers and admins" in response.get_data(as_text=True)
    assert proposal(workspace_root).decisions == []


def test_self_approval_is_refused_with_the_librarys_words(client, auth, workspace_root):
    auth.login("carol")  # carol proposed proposal 2
    assert "You proposed this change" in client.get("/proposals/2").get_data(as_text=True)
    response = auth.post("/proposals/2/approve", form(workspace_root, 2), follow_redirects=True)
    assert response.status_code == 200
    assert "you proposed this change: someone else must approve it" in flashed(response)
    assert proposal(workspace_root, 2).decisions == []


def test_every_checklist_item_must_be_ticked(client, auth, workspace_root):
    auth.login("alice")
    items = proposal(workspace_root).checklist
    response = auth.post("/proposals/1/approve", form(workspace_root, checklist=items[:-1]), follow_redirects=True)
    assert "confirm every checklist item first (1 open)" in flashed(response)
    assert proposal(workspace_root).decisions == []


def test_an_approval_of_content_the_reviewer_did_not_see_is_refused(client, auth, workspace_root):
    auth.login("alice")
    response = auth.post("/proposals/1/approve", form(workspace_root, digest="0" * 64), follow_redirects=True)
    assert "changed since you looked at it" in flashed(response)
    assert proposal(workspace_root).decisions == []


def test_two_reviewers_approve_and_the_keyring_holds_exactly_the_approved_keys(client, auth, keys, workspace_root):
    before = keyring_fingerprints(workspace_root)
    assert before == {keys["old"].fingerprint}
    auth.login("alice")
    response = auth.post("/proposals/1/approve", form(workspace_root, comment="announced on the list"),
                         follow_redirects=True)
    assert "It has 1 of 2 approvals" in flashed(response)
    assert keyring_fingerprints(workspace_root) == before
    auth.logout()
    auth.login("bob")
    response = auth.post("/proposals/1/approve", form(workspace_root), follow_redirects=True)
    assert "the keyring of pkg has been written" in flashed(response)
    assert keyring_fingerprints(workspace_root) == {keys["old"].fingerprint, keys["new"].fingerprint}
    assert proposal(workspace_root).state == "applied"
    page = client.get("/proposals/1").get_data(as_text=True)
    assert "approve-form" not in page and "announced on the list" in page


def test_one_decision_per_reviewer(client, auth, workspace_root):
    auth.login("alice")
    auth.post("/proposals/1/approve", form(workspace_root))
    assert "You have already decided" in client.get("/proposals/1").get_data(as_text=True)
    response = auth.post("/proposals/1/approve", form(workspace_root), follow_redirects=True)
    assert "alice already decided on proposal 1" in flashed(response)


def test_a_rejection_needs_a_comment(client, auth, workspace_root):
    auth.login("bob")
    response = auth.post("/proposals/1/reject", form(workspace_root, comment="   "), follow_redirects=True)
    assert "a rejection needs a comment" in flashed(response)
    response = auth.post("/proposals/1/reject", form(workspace_root, comment="no announcement anywhere"),
                         follow_redirects=True)
    assert "You rejected proposal 1" in flashed(response)
    assert proposal(workspace_root).state == "rejected"
    response = auth.post("/proposals/1/approve", form(workspace_root), follow_redirects=True)
    assert "proposal 1 is rejected" in flashed(response)


@pytest.mark.parametrize("path", ["/proposals/99", "/proposals/99/approve"])
def test_unknown_proposals_are_404(client, auth, path):
    auth.login("alice")
    response = auth.post(path, {}) if path.endswith("approve") else client.get(path)
    assert response.status_code == 404


def test_an_unreadable_keyring_is_a_message_not_a_500(client, auth, workspace_root):
    auth.login("alice")
    auth.post("/proposals/1/approve", form(workspace_root))
    auth.logout()
    (workspace_root / "keyrings" / "pkg.keyring").write_text("this is not a keyring")
    auth.login("bob")
    response = auth.post("/proposals/1/approve", form(workspace_root), follow_redirects=True)
    assert response.status_code == 200
    assert "flash-error" in flashed(response)
    assert proposal(workspace_root).state == "open"
