"""Sign-off: proposals, the approval policy, atomic keyring writes, and what the audit history says.

Keys are made by sq (certgen); the keyring on disk is read back with the
same parser users have (pysequoia) to check it holds exactly the approved keys.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pysequoia
import pytest

import certgen
from keywatch.ingest import import_bytes
from keywatch.proposals import Review, ReviewError
from keywatch.users import User, add_user
from keywatch.workspace import Workspace, init

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)
FAR = NOW + dt.timedelta(days=3000)
ALICE, BOB, VERA = User("alice", "reviewer"), User("bob", "reviewer"), User("vera", "viewer")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """old → new (the maintainer certifies the successor); flood certifies new too, but is nobody."""
    work = tmp_path_factory.mktemp("keys")
    old = certgen.generate_key(work, ["Old <old@example.org>"], created=NOW - dt.timedelta(days=900), expires=FAR,
                               tool="sq")
    new = certgen.generate_key(work, ["New <new@example.org>"], created=NOW - dt.timedelta(days=20), expires=FAR,
                               tool="sq")
    flood = certgen.generate_key(work, ["Flood <flood@example.org>"], created=NOW - dt.timedelta(days=20),
                                 expires=FAR, tool="sq")
    cert = certgen.certify(work, old, new.cert, "New <new@example.org>", time=NOW - dt.timedelta(days=19),
                           expires=FAR)
    cert = certgen.certify(work, flood, cert, "New <new@example.org>", time=NOW - dt.timedelta(days=18), expires=FAR)
    return {"work": work, "old": old, "new": new.with_cert(cert), "flood": flood}


def make_workspace(root: Path, keys: dict, approvals: int = 2) -> Workspace:
    workspace, _ = init(root)
    (root / "keyrings" / "pkg.keyring").write_text(str(pysequoia.Cert.from_bytes(keys["old"].cert)))
    config = workspace.config_path
    config.write_text(config.read_text() + f"\n[review]\napprovals = {approvals}\n\n[[upstream]]\nname = \"pkg\"\n"
                      "keyring = \"keyrings/pkg.keyring\"\nkeyring_format = \"opensuse\"\n")
    store = workspace.store()
    for name in ("old", "new", "flood"):
        import_bytes(store, keys[name].cert, name)
    with store.transaction() as conn:
        for user in (ALICE, BOB, VERA):
            add_user(conn, user.name, user.role, "correct horse battery", 0)
    store.close()
    return workspace


def review_of(workspace: Workspace) -> Review:
    store = workspace.store()
    return Review(workspace.root, workspace.config(), store, workspace.audit(store))


def propose_new_signer(review: Review, keys: dict, proposer: str = "carol", risk: str = "low"):
    upstream = review.config.upstream("pkg")
    return review.propose(upstream, "add-signer", keys["new"].fingerprint, proposer, title="add the new signer",
                          add=[keys["new"].fingerprint], risk_level=risk)


def keyring_fingerprints(path: Path) -> set[str]:
    return {c.fingerprint.upper() for c in pysequoia.Cert.split_bytes(path.read_bytes())}


def test_two_approvals_write_exactly_the_approved_keys(tmp_path, keys):
    workspace = make_workspace(tmp_path / "ws", keys)
    review = review_of(workspace)
    proposal = propose_new_signer(review, keys)
    assert proposal.diff["added"] == [keys["new"].fingerprint] and proposal.required_approvals == 2
    keyring = workspace.root / "keyrings" / "pkg.keyring"
    before = keyring.read_bytes()
    review.approve(proposal.id, ALICE, proposal.digest, proposal.checklist)
    assert keyring.read_bytes() == before  # one approval of two: nothing written
    done = review.approve(proposal.id, BOB, proposal.digest, proposal.checklist, "checked on the mailing list")
    assert done.state == "applied"
    assert keyring_fingerprints(keyring) == {keys["old"].fingerprint, keys["new"].fingerprint}
    # The flood certification (issuer outside keyring and trust store) is stripped; the old key's stays.
    listing = subprocess.run(["sq", "inspect", "--certifications", str(keyring)], capture_output=True,
                             text=True).stdout
    assert keys["old"].fingerprint[-16:] in listing.replace(" ", "")
    assert keys["flood"].fingerprint[-16:] not in listing.replace(" ", "")
    actions = [e.action for e in review.audit.entries()]
    assert actions == ["proposal-created", "approve", "approve", "keyring-write"]
    assert review.audit.verify() == []


@pytest.mark.parametrize("who,why", [(User("carol", "reviewer"), "someone else must approve"),
                                     (VERA, "only reviewers and admins"),
                                     (ALICE, "changed since you looked")])
def test_refused_decisions(tmp_path, keys, who, why):
    review = review_of(make_workspace(tmp_path / "ws", keys))
    proposal = propose_new_signer(review, keys)
    digest = proposal.digest if who is not ALICE else "0" * 64
    with pytest.raises(ReviewError, match=why):
        review.approve(proposal.id, who, digest, proposal.checklist)


def test_one_decision_per_reviewer_and_rejection_needs_a_comment(tmp_path, keys):
    review = review_of(make_workspace(tmp_path / "ws", keys))
    proposal = propose_new_signer(review, keys)
    review.approve(proposal.id, ALICE, proposal.digest, proposal.checklist)
    with pytest.raises(ReviewError, match="already decided"):
        review.approve(proposal.id, ALICE, proposal.digest, proposal.checklist)
    with pytest.raises(ReviewError, match="needs a comment"):
        review.reject(proposal.id, BOB, proposal.digest, "  ")
    with pytest.raises(ReviewError, match="checklist"):
        review.approve(proposal.id, BOB, proposal.digest, proposal.checklist[:1])


def test_material_change_supersedes_and_approvals_do_not_carry_over(tmp_path, keys):
    workspace = make_workspace(tmp_path / "ws", keys)
    review = review_of(workspace)
    first = propose_new_signer(review, keys)
    review.approve(first.id, ALICE, first.digest, first.checklist)
    # A new subkey appears upstream: the key material changes.
    changed = certgen.set_expiry(keys["work"], keys["new"], FAR + dt.timedelta(days=1), time=NOW, cert=keys["new"].cert)
    import_bytes(review.store, changed, "upstream refresh")
    second = propose_new_signer(review, keys)
    assert second.id != first.id and second.digest != first.digest
    assert review.get(first.id).state == "superseded"
    with pytest.raises(ReviewError, match="superseded"):
        review.approve(first.id, BOB, first.digest, first.checklist)
    assert len(review.get(second.id).approvals_for_digest()) == 0


def test_high_risk_needs_more_approvals(tmp_path, keys):
    review = review_of(make_workspace(tmp_path / "ws", keys, approvals=1))
    assert propose_new_signer(review, keys, risk="high").required_approvals == 2


def _approve_in_process(root: str, proposal_id: int, user: str, digest: str, checklist: list, start: float) -> None:
    workspace = Workspace(Path(root))
    review = review_of(workspace)
    while time.time() < start:
        time.sleep(0.001)
    review.approve(proposal_id, User(user, "reviewer"), digest, checklist)


def test_two_reviewers_at_the_same_moment_cause_one_write(tmp_path, keys):
    workspace = make_workspace(tmp_path / "ws", keys)
    review = review_of(workspace)
    proposal = propose_new_signer(review, keys)
    start = time.time() + 1.0
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_approve_in_process,
                               args=(str(workspace.root), proposal.id, name, proposal.digest, proposal.checklist,
                                     start)) for name in ("alice", "bob")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    actions = [e.action for e in review.audit.entries()]
    assert actions.count("approve") == 2 and actions.count("keyring-write") == 1
    assert review.get(proposal.id).state == "applied"


KILL_SCRIPT = """
import sys
from pathlib import Path
from keywatch.proposals import Review
from keywatch.users import User
from keywatch.workspace import Workspace
workspace = Workspace(Path(sys.argv[1]))
store = workspace.store()
review = Review(workspace.root, workspace.config(), store, workspace.audit(store))
proposal = review.get(int(sys.argv[2]))
print("ready", flush=True)
sys.stdin.readline()
review.approve(proposal.id, User("bob", "reviewer"), proposal.digest, proposal.checklist)
print("done", flush=True)
"""


def test_kill_at_any_point_of_applying_leaves_a_whole_keyring(tmp_path, keys):
    """SIGKILL the process that makes the final approval after 0–60 ms, many times: old or new, never torn."""
    template = make_workspace(tmp_path / "template", keys)
    review = review_of(template)
    proposal = propose_new_signer(review, keys)
    review.approve(proposal.id, ALICE, proposal.digest, proposal.checklist)
    review.store.close()
    old_set = {keys["old"].fingerprint}
    new_set = {keys["old"].fingerprint, keys["new"].fingerprint}
    outcomes = {"old": 0, "new": 0}
    for attempt in range(24):
        root = tmp_path / f"run{attempt}"
        shutil.copytree(template.root, root)
        proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(root), str(proposal.id)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        proc.stdin.write("go\n")
        proc.stdin.flush()
        time.sleep(attempt * 0.0025)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        found = keyring_fingerprints(root / "keyrings" / "pkg.keyring")
        assert found in (old_set, new_set)
        outcomes["new" if found == new_set else "old"] += 1
        leftovers = [p.name for p in (root / "keyrings").iterdir() if p.name.startswith(".")]
        assert all(name.startswith(".pkg.keyring.") for name in leftovers)
        # Whatever happened, the store and the audit history still verify and agree with the disk.
        after = review_of(Workspace(root))
        assert after.audit.verify() == []
        state = after.get(proposal.id).state
        assert state in ("open", "applied")
        if state == "applied":
            assert found == new_set
    assert outcomes["old"] > 0 and outcomes["new"] > 0, outcomes  # kills landed before and after the rename


def test_checklists_are_configurable_and_git_commit_records_who_approved(tmp_path, keys):
    workspace = make_workspace(tmp_path / "ws", keys, approvals=1)
    config = workspace.config_path
    config.write_text(config.read_text().replace("[review]\n", "[review]\ngit_commit = true\n", 1)
                      + "\n[review.checklists]\nadd-signer = [\"I phoned the new maintainer.\"]\n")
    subprocess.run(["git", "init", "-q", str(workspace.root)], check=True)
    subprocess.run(["git", "-C", str(workspace.root), "-c", "user.name=t", "-c", "user.email=t@example.org",
                    "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    review = review_of(workspace)
    proposal = propose_new_signer(review, keys)
    assert proposal.checklist == ["I phoned the new maintainer."]
    env_before = dict(os.environ)
    os.environ.update({"GIT_AUTHOR_NAME": "keywatch", "GIT_AUTHOR_EMAIL": "keywatch@localhost",
                       "GIT_COMMITTER_NAME": "keywatch", "GIT_COMMITTER_EMAIL": "keywatch@localhost"})
    try:
        assert review.approve(proposal.id, ALICE, proposal.digest, proposal.checklist).state == "applied"
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    message = subprocess.run(["git", "-C", str(workspace.root), "log", "-1", "--format=%B"], capture_output=True,
                             text=True, check=True).stdout
    assert f"Keywatch-Proposal: {proposal.id}" in message and "Approved-by: alice" in message
    assert f"Keywatch-Digest: {proposal.digest}" in message
