"""What each page shows: dashboard, upstream, key, audit log."""

from __future__ import annotations

from web_scenario import PASSWORD  # noqa: F401 - the scenario's accounts all share it

from keywatch.proposals import Review
from keywatch.workspace import Workspace


def approve(auth, workspace_root, name, comment=""):
    workspace = Workspace(workspace_root)
    store = workspace.store()
    try:
        p = Review(workspace.root, workspace.config(), store, workspace.audit(store)).get(1)
    finally:
        store.close()
    auth.logout()
    auth.login(name)
    return auth.post("/proposals/1/approve", {"digest": p.digest, "checklist": p.checklist, "comment": comment})


def test_dashboard_lists_pending_proposals_riskiest_first_and_recent_events(client, auth):
    auth.login("vera")
    page = client.get("/").get_data(as_text=True)
    assert "Waiting for a decision" in page
    high, low = page.index('href="/proposals/1"'), page.index('href="/proposals/2"')
    assert high < low  # proposal 1 is high risk, 2 low, although 2 is newer
    assert "handover_suspected" in page and "signer_changed" in page


def test_upstream_page_shows_the_key_timeline_and_release_signers(client, auth, keys):
    auth.login("vera")
    page = client.get("/upstreams/pkg").get_data(as_text=True)
    old, new = keys["old"].fingerprint, keys["new"].fingerprint
    timeline = page.split("Key timeline")[1].split("Releases and their signers")[0]
    # The old key first (seen first), in the keyring, signed 5.4.x; then the new one, not in the keyring.
    assert timeline.index(old) < timeline.index(new)
    assert "Signed 2 release(s): 5.4.0, 5.4.1" in timeline and "Signed 1 release(s): 5.6.0" in timeline
    assert timeline.count("not in keyring") == 1
    releases = page.split("Releases and their signers")[1].split("Proposals")[0]
    assert releases.index("5.6.0") < releases.index("5.4.1") < releases.index("5.4.0")  # newest first
    assert client.get("/upstreams/nope").status_code == 404


def test_key_page_shows_certifications_with_status_and_whether_they_count(client, auth, keys):
    auth.login("vera")
    page = client.get(f"/keys/{keys['new'].fingerprint}").get_data(as_text=True)
    assert "Old &lt;old@example.org&gt;" in page
    assert page.count("<strong>counts</strong>") == 1 and "good" in page
    assert f'<img id="trust-paths" src="/keys/{keys["new"].fingerprint}/paths.svg"' in page
    # A key ID finds the key; an unknown one is a 404.
    response = client.get(f"/keys/{keys['new'].fingerprint[-16:]}")
    assert response.status_code == 302 and response.headers["Location"].endswith(keys["new"].fingerprint)
    assert client.get("/keys/0123456789ABCDEF").status_code == 404
    assert client.get("/keys/not-a-key").status_code == 404


def test_the_picture_shows_who_certified_the_key_and_who_certified_them(client, auth, keys):
    auth.login("vera")
    svg = client.get(f"/keys/{keys['new'].fingerprint}/paths.svg").get_data(as_text=True)
    for name in ("New &lt;new@example.org&gt;", "Old &lt;old@example.org&gt;", "Friend &lt;friend@example.org&gt;"):
        assert name in svg
    assert svg.count('class="edge"') == 2  # old → new, friend → old
    lonely = client.get(f"/keys/{keys['hostile'].fingerprint}/paths.svg").get_data(as_text=True)
    assert "No certification counts on this key" in lonely


def test_audit_page_shows_decisions_and_filters(client, auth, workspace_root):
    auth.login("alice")
    approve(auth, workspace_root, "alice", comment="checked the announcement")
    approve(auth, workspace_root, "bob")
    page = client.get("/audit/").get_data(as_text=True)
    for text in ("approve", "keyring-write", "proposal-created", "checked the announcement", "login"):
        assert text in page
    only_approvals = client.get("/audit/?action=approve").get_data(as_text=True)
    rows = only_approvals.split("<tbody>")[1]
    assert rows.count("<tr") == 2 and ">alice<" in rows and ">bob<" in rows
    by_bob = client.get("/audit/?actor=bob").get_data(as_text=True).split("<tbody>")[1]
    assert ">alice<" not in by_bob and ">approve<" in by_bob and ">login<" in by_bob


def test_error_pages_are_pages(client, auth):
    auth.login("vera")
    response = client.get("/proposals/123")
    assert response.status_code == 404 and "There is no proposal 123" in response.get_data(as_text=True)


def test_with_trust_roots_the_picture_shows_the_paths_from_them(client, auth, keys, monkeypatch):
    from keywatch.trust.report import TrustSettings

    monkeypatch.setattr("web.keys.trust_settings", lambda: TrustSettings(roots=((keys["old"].fingerprint, 120),)))
    auth.login("vera")
    page = client.get(f"/keys/{keys['new'].fingerprint}").get_data(as_text=True)
    assert "Paths from the trust roots" in page
    svg = client.get(f"/keys/{keys['new'].fingerprint}/paths.svg").get_data(as_text=True)
    assert "Old &lt;old@example.org&gt;" in svg and "New &lt;new@example.org&gt;" in svg
    assert '<title>' in svg and 'class="edge"' in svg and ">120<" in svg  # old → new, amount 120


def test_key_list_is_paged(client, auth, workspace_root):
    """A distribution keyring has ~1,000 keys: the list comes 100 a page, and every key is reachable."""
    import pysequoia

    from keywatch.ingest import import_bytes

    store = Workspace(workspace_root).store()
    certs = [pysequoia.Tsk.generate(f"Bulk {n} <bulk{n}@example.org>").extract_certificate() for n in range(150)]
    import_bytes(store, b"".join(bytes(c) for c in certs), "bulk")
    total = store.conn.execute("SELECT count(*) FROM certs").fetchone()[0]
    store.close()
    auth.login("vera")
    first = client.get("/keys/").get_data(as_text=True)
    assert f'<span class="count">{total}</span>' in first and "page 1 of 2" in first
    second = client.get("/keys/?page=2").get_data(as_text=True)
    shown = first.count('class="fpr"') + second.count('class="fpr"')
    assert shown == total
