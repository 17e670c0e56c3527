"""Signed tags read from real repositories, with gpg and ssh-keygen as the oracles of the split.

The upstream repository is made with git and signed with a gpg key generated
for the test (and an ssh key for the SSH-signed tag). For every signed tag,
`gpg --verify signature payload` on the bytes keywatch split out must succeed,
and fail once the payload is changed: that the payload is exactly what the
signer signed is checked by the signer's own tool, not by re-reading our code.

    v5.3.0          lightweight
    v5.4.0          signed (gpg)
    v5.4.1          signed (gpg); message kept verbatim: CRLF, trailing blanks, and a
                    quoted "-----BEGIN PGP SIGNATURE-----" line before the real one
    v5.5.0          annotated, unsigned
    debian/5.4.0-1  signed (gpg), a packaging tag no release pattern matches
    ssh-5.6.0       signed (ssh)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pysequoia
import pytest

from keywatch import gittags
from keywatch.errors import ConfigError, InputError
from keywatch.gittags import GitError, GitTag, read_signed_tags, split_signature

TAGGED_AT = 1700000000
QUOTED_MESSAGE = (b"xz 5.4.1\r\n\r\nTrailing blanks stay.   \n"
                  b"A quoted signature header is not the signature:\n"
                  b"-----BEGIN PGP SIGNATURE-----\n"
                  b"(quoted)\n"
                  b"-----END PGP SIGNATURE-----\n"
                  b"Last line.\n")


class Upstream:
    """A working repository with its own HOME and GNUPGHOME, as an upstream maintainer has."""

    def __init__(self, root: Path, gnupg: Path, fingerprint: str, ssh_key: Path) -> None:
        self.path = root / "upstream"
        self.fingerprint = fingerprint
        self.ssh_key = ssh_key
        home = root / "home"
        home.mkdir()
        self.env = {"PATH": os.environ["PATH"], "HOME": str(home), "GNUPGHOME": str(gnupg),
                    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C",
                    "GIT_COMMITTER_DATE": f"{TAGGED_AT} +0000", "GIT_AUTHOR_DATE": f"{TAGGED_AT} +0000"}
        self.git("init", "--quiet", str(self.path), cwd=root)
        self.git("config", "uploadpack.allowFilter", "true")  # as GitHub's servers: mirrors can be partial
        self.git("commit", "--quiet", "--allow-empty", "-m", "initial")

    def git(self, *args: str, cwd: Path | None = None, input: bytes | None = None) -> bytes:
        done = subprocess.run(["git", "-c", "user.name=Lasse", "-c", "user.email=lasse@example.org",
                               "-c", f"user.signingkey={self.fingerprint}", *args],
                              cwd=cwd or self.path, env=self.env, input=input, capture_output=True, timeout=60,
                              check=False)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    def signed_tag(self, name: str, message: str = "release") -> None:
        self.git("tag", "-s", name, "-m", message)

    def object_of(self, name: str) -> str:
        return self.git("rev-parse", f"refs/tags/{name}").decode().strip()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """A gpg release-signing key (ed25519, no passphrase) and an ssh signing key."""
    root = tmp_path_factory.mktemp("keys")
    gnupg = root / "g"
    gnupg.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(gnupg)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-generate-key",
                    "Lasse Collin <lasse@example.org>", "ed25519", "sign", "never"],
                   env=env, check=True, capture_output=True, timeout=60)
    colons = subprocess.run(["gpg", "--with-colons", "--list-keys"], env=env, check=True, capture_output=True).stdout
    fingerprint = next(line.split(":")[9] for line in colons.decode().splitlines() if line.startswith("fpr:"))
    cert = subprocess.run(["gpg", "--export", "--armor", fingerprint], env=env, check=True,
                          capture_output=True).stdout
    ssh_key = root / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lasse@example.org", "-f", str(ssh_key)],
                   check=True, capture_output=True, timeout=60)
    yield {"gnupg": gnupg, "fingerprint": fingerprint, "cert": cert, "ssh_key": ssh_key}
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True, timeout=60, check=False)


def make_upstream(root: Path, keys: dict) -> Upstream:
    upstream = Upstream(root, keys["gnupg"], keys["fingerprint"], keys["ssh_key"])
    upstream.git("tag", "v5.3.0")
    upstream.signed_tag("v5.4.0", "xz 5.4.0")
    (root / "message").write_bytes(QUOTED_MESSAGE)
    upstream.git("tag", "-s", "v5.4.1", "-F", str(root / "message"), "--cleanup=verbatim")
    upstream.git("tag", "-a", "v5.5.0", "-m", "not signed")
    upstream.signed_tag("debian/5.4.0-1", "packaging")
    upstream.git("-c", "gpg.format=ssh", "-c", f"user.signingkey={keys['ssh_key']}", "tag", "-s", "ssh-5.6.0",
                 "-m", "signed with ssh")
    return upstream


@pytest.fixture(scope="module")
def upstream(tmp_path_factory, keys) -> Upstream:
    return make_upstream(tmp_path_factory.mktemp("upstream"), keys)


@pytest.fixture
def fresh(tmp_path, keys) -> Upstream:
    """An upstream with one commit and no tags, for tags made by hand."""
    (tmp_path / "fresh").mkdir()
    return Upstream(tmp_path / "fresh", keys["gnupg"], keys["fingerprint"], keys["ssh_key"])


@pytest.fixture(scope="module")
def tags(upstream, tmp_path_factory) -> dict[str, GitTag]:
    read = read_signed_tags(str(upstream.path), tmp_path_factory.mktemp("cache"))
    return {tag.name: tag for tag in read}


def gpg_verifies(keys: dict, workdir: Path, payload: bytes, signature: bytes) -> bool:
    """The oracle: gpg's own verdict on a detached signature over exactly these bytes."""
    (workdir / "payload").write_bytes(payload)
    (workdir / "payload.asc").write_bytes(signature)
    done = subprocess.run(["gpg", "--status-fd", "1", "--verify", str(workdir / "payload.asc"),
                           str(workdir / "payload")], env={**os.environ, "GNUPGHOME": str(keys["gnupg"])},
                          capture_output=True, timeout=60, check=False)
    return done.returncode == 0 and f"VALIDSIG {keys['fingerprint']}".encode() in done.stdout


def test_every_tag_is_read_with_its_object_and_kind(tags, upstream):
    assert set(tags) == {"v5.3.0", "v5.4.0", "v5.4.1", "v5.5.0", "debian/5.4.0-1", "ssh-5.6.0"}
    for name, tag in tags.items():
        assert tag.object == upstream.object_of(name)
        assert tag.version is None
    kinds = {name: tag.signature_kind for name, tag in tags.items()}
    assert kinds == {"v5.3.0": None, "v5.4.0": "openpgp", "v5.4.1": "openpgp", "v5.5.0": None,
                     "debian/5.4.0-1": "openpgp", "ssh-5.6.0": "ssh"}


def test_lightweight_and_unsigned_tags(tags, upstream):
    light = tags["v5.3.0"]
    assert light.object == upstream.git("rev-parse", "HEAD").decode().strip()
    assert (light.payload, light.signature, light.tagger_time) == (b"", None, None)
    unsigned = tags["v5.5.0"]
    assert unsigned.signature is None and unsigned.tagger_time == TAGGED_AT
    assert unsigned.payload == upstream.git("cat-file", "tag", "v5.5.0")


@pytest.mark.parametrize("name", ["v5.4.0", "v5.4.1", "debian/5.4.0-1"])
def test_gpg_verifies_exactly_the_split_payload(tags, upstream, keys, tmp_path, name):
    tag = tags[name]
    assert tag.tagger_time == TAGGED_AT
    assert tag.signature.startswith(b"-----BEGIN PGP SIGNATURE-----\n")
    assert tag.signature.rstrip(b"\n").endswith(b"-----END PGP SIGNATURE-----")
    assert tag.payload + tag.signature == upstream.git("cat-file", "tag", name)
    assert gpg_verifies(keys, tmp_path, tag.payload, tag.signature)
    assert not gpg_verifies(keys, tmp_path, tag.payload + b"\n", tag.signature)
    assert not gpg_verifies(keys, tmp_path, tag.payload.replace(b"\n", b"\r\n", 1), tag.signature)


def test_quoted_armor_in_the_message_stays_in_the_payload(tags):
    tag = tags["v5.4.1"]
    assert tag.payload.endswith(b"\n\n" + QUOTED_MESSAGE)
    assert b"(quoted)" in tag.payload and b"(quoted)" not in tag.signature


def test_a_signature_glued_to_an_unterminated_message_is_not_found_as_git_does_not(fresh, keys, tmp_path):
    """With --cleanup=verbatim and no final newline the armor starts mid-line: git verify-tag
    then takes the quoted block for the signature and fails, and our split agrees with git."""
    (tmp_path / "message").write_bytes(QUOTED_MESSAGE.rstrip(b"\n"))
    fresh.git("tag", "-s", "glued", "-F", str(tmp_path / "message"), "--cleanup=verbatim")
    with pytest.raises(AssertionError, match="could not be verified"):
        fresh.git("verify-tag", "glued")
    [tag] = read_signed_tags(str(fresh.path), tmp_path / "cache")
    assert tag.signature.startswith(b"-----BEGIN PGP SIGNATURE-----\n(quoted)\n")
    assert not gpg_verifies(keys, tmp_path, tag.payload, tag.signature)


@pytest.mark.parametrize("name", ["v5.4.0", "v5.4.1"])
def test_sequoia_verifies_the_split_payload(tags, keys, name):
    tag = tags[name]
    cert = pysequoia.Cert.from_bytes(keys["cert"])
    verified = pysequoia.verify(bytes=tag.payload, signature=pysequoia.Sig.from_bytes(tag.signature),
                                store=lambda key_ids: [cert])
    assert [sig.certificate.upper() for sig in verified.valid_sigs] == [keys["fingerprint"]]
    with pytest.raises(RuntimeError):
        pysequoia.verify(bytes=tag.payload + b"x", signature=pysequoia.Sig.from_bytes(tag.signature),
                         store=lambda key_ids: [cert])


def test_ssh_signature_is_recognised_and_split_as_ssh_keygen_verifies(tags, keys, tmp_path):
    tag = tags["ssh-5.6.0"]
    assert tag.signature.startswith(b"-----BEGIN SSH SIGNATURE-----\n")
    public_key = keys["ssh_key"].with_suffix(".pub").read_text().split()
    (tmp_path / "allowed").write_text(f"lasse@example.org {public_key[0]} {public_key[1]}\n")
    (tmp_path / "sig").write_bytes(tag.signature)
    verify = ["ssh-keygen", "-Y", "verify", "-f", str(tmp_path / "allowed"), "-I", "lasse@example.org",
              "-n", "git", "-s", str(tmp_path / "sig")]
    assert subprocess.run(verify, input=tag.payload, capture_output=True, timeout=60, check=False).returncode == 0
    assert subprocess.run(verify, input=tag.payload + b"x", capture_output=True, timeout=60,
                          check=False).returncode != 0


def test_a_signature_header_is_left_out_of_the_payload_as_git_does(fresh, keys, tmp_path):
    """A tag signed over both hash forms carries the other form's signature in a gpgsig-sha256 header.

    git verify-tag drops that header before checking the in-body signature; so must we.
    """
    commit = fresh.git("rev-parse", "HEAD").decode().strip()
    head = f"object {commit}\ntype commit\ntag both-hashes\ntagger Lasse <lasse@example.org> {TAGGED_AT} +0000\n"
    body = b"\nsigned over both hashes\n"
    (tmp_path / "signed").write_bytes(head.encode() + body)
    subprocess.run(["gpg", "--batch", "--yes", "--armor", "--detach-sign", "-u", keys["fingerprint"],
                    str(tmp_path / "signed")], env={**os.environ, "GNUPGHOME": str(keys["gnupg"])},
                   check=True, capture_output=True, timeout=60)
    in_body = (tmp_path / "signed.asc").read_bytes()
    header = b"gpgsig-sha256 -----BEGIN PGP SIGNATURE-----\n \n AAAA\n -----END PGP SIGNATURE-----\n"
    raw = head.encode() + header + body + in_body
    object_id = fresh.git("hash-object", "-t", "tag", "-w", "--stdin", input=raw).decode().strip()
    fresh.git("update-ref", "refs/tags/both-hashes", object_id)
    fresh.git("verify-tag", "both-hashes")  # git itself accepts it

    [tag] = read_signed_tags(str(fresh.path), tmp_path / "cache")
    assert (tag.payload, tag.signature, tag.signature_kind) == (head.encode() + body, in_body, "openpgp")
    assert gpg_verifies(keys, tmp_path, tag.payload, tag.signature)


@pytest.mark.parametrize(("raw", "payload", "signature", "kind"), [
    (b"tag a\n\nmsg\n", b"tag a\n\nmsg\n", None, None),
    (b"tag a\n\nmsg\n-----BEGIN PGP MESSAGE-----\nx\n", b"tag a\n\nmsg\n", b"-----BEGIN PGP MESSAGE-----\nx\n",
     "openpgp"),
    (b"tag a\n\n-----BEGIN SIGNED MESSAGE-----\nx", b"tag a\n\n", b"-----BEGIN SIGNED MESSAGE-----\nx", "x509"),
    (b"tag a\n\nsee  -----BEGIN PGP SIGNATURE-----\n", b"tag a\n\nsee  -----BEGIN PGP SIGNATURE-----\n", None, None),
    (b"tag a\n\n-----BEGIN PGP SIGNATURE-----\n1\n-----BEGIN SSH SIGNATURE-----\n2\n",
     b"tag a\n\n-----BEGIN PGP SIGNATURE-----\n1\n", b"-----BEGIN SSH SIGNATURE-----\n2\n", "ssh"),
    (b"tag a\r\n\r\nmsg\r-----BEGIN PGP SIGNATURE-----\n", b"tag a\r\n\r\nmsg\r-----BEGIN PGP SIGNATURE-----\n",
     None, None),
    (b"tag a\ngpgsig x\n y\ngpgsig-sha256 z\n w\nnext\n\nbody\n gpgsig q\n-----BEGIN PGP SIGNATURE-----\n",
     b"tag a\nnext\n\nbody\n gpgsig q\n", b"-----BEGIN PGP SIGNATURE-----\n", "openpgp"),
    (b"gpgsig x\n y\n\nbody\n-----BEGIN PGP SIGNATURE-----\n", b"\nbody\n", b"-----BEGIN PGP SIGNATURE-----\n",
     "openpgp"),
    (b"\ngpgsig x\n-----BEGIN PGP SIGNATURE-----\n", b"\ngpgsig x\n", b"-----BEGIN PGP SIGNATURE-----\n", "openpgp"),
    (b"tag a\ngpgsigx y\n-----BEGIN PGP SIGNATURE-----", b"tag a\ngpgsigx y\n", b"-----BEGIN PGP SIGNATURE-----",
     "openpgp"),
])
def test_split_follows_gits_line_rules(raw, payload, signature, kind):
    """Only a line *starting* with an armor header (after \\n, not \\r) begins the signature; the last one wins."""
    assert split_signature(raw) == (payload, signature, kind)


def test_tag_pattern_gives_versions_and_order(upstream, tmp_path):
    read = read_signed_tags(str(upstream.path), tmp_path / "cache", tag_pattern=r"v?([\d.]+)")
    versions = {tag.name: tag.version for tag in read}
    assert versions == {"v5.3.0": "5.3.0", "v5.4.0": "5.4.0", "v5.4.1": "5.4.1", "v5.5.0": "5.5.0",
                        "debian/5.4.0-1": None, "ssh-5.6.0": None}
    release_names = [tag.name for tag in read if tag.version is not None]
    assert release_names == ["v5.3.0", "v5.4.0", "v5.4.1", "v5.5.0"]


def test_bad_tag_pattern_is_a_config_error(upstream, tmp_path):
    with pytest.raises(ConfigError, match="no group 1"):
        read_signed_tags(str(upstream.path), tmp_path, tag_pattern=r"v[\d.]+")
    assert not any(tmp_path.iterdir())


def test_second_call_fetches_into_the_same_mirror(keys, tmp_path):
    (tmp_path / "src").mkdir()
    upstream = make_upstream(tmp_path / "src", keys)
    cache = tmp_path / "cache"
    first = {tag.name for tag in read_signed_tags(str(upstream.path), cache)}
    [mirror] = cache.iterdir()
    (mirror / "keywatch-test-marker").write_text("a reclone would lose this")

    upstream.signed_tag("v5.6.0", "xz 5.6.0, signed by the new maintainer")
    upstream.git("tag", "-d", "v5.5.0")
    upstream.git("tag", "-f", "-a", "v5.4.0", "-m", "moved and no longer signed")
    second = {tag.name: tag for tag in read_signed_tags(str(upstream.path), cache)}

    assert set(second) == first - {"v5.5.0"} | {"v5.6.0"}
    assert second["v5.6.0"].signature_kind == "openpgp"
    assert second["v5.6.0"].object == upstream.object_of("v5.6.0")
    assert second["v5.4.0"].signature is None  # --force: a re-pointed tag is seen as it is now
    assert list(cache.iterdir()) == [mirror] and (mirror / "keywatch-test-marker").exists()
    stored = subprocess.run(["git", "--git-dir", str(mirror), "cat-file", "--batch-all-objects",
                             "--batch-check=%(objecttype)"], env=upstream.env, capture_output=True, check=True)
    assert set(stored.stdout.split()) == {b"commit", b"tag"}  # a partial mirror: trees and blobs stay upstream


def test_same_repository_through_another_spelling_shares_the_mirror(upstream, tmp_path):
    cache = tmp_path / "cache"
    read_signed_tags(str(upstream.path), cache)
    read_signed_tags(str(upstream.path / "." / ".." / upstream.path.name), cache)
    assert len(list(cache.iterdir())) == 1


@pytest.mark.parametrize("repository", [
    "file:///tmp/keywatch-no-such-repo",
    "FILE:///etc",
    "ext::sh -c touch% {marker}",
    "ext::sh -c 'touch {marker}'",
    "fd::7",
    "ssh://git@example.org/xz.git",
    "git+ssh://example.org/xz.git",
    "git@example.org:xz.git",
    "https://example.org/xz.git\nhttps://evil.example/",
    "-uhelp",
    "--upload-pack=touch {marker}",
    "{missing}",
])
def test_unsafe_or_unknown_repositories_are_refused_before_git_runs(tmp_path, repository):
    marker = tmp_path / "marker"
    repository = repository.format(marker=marker, missing=tmp_path / "missing")
    with pytest.raises(InputError) as caught:
        read_signed_tags(repository, tmp_path / "cache")
    assert "\n" not in str(caught.value) and repository.split("\n")[0] in str(caught.value)
    assert not marker.exists() and not (tmp_path / "cache").exists()


def test_git_itself_refuses_command_running_transports(tmp_path):
    """Defence in depth: were a helper URL to get past the check, git's protocol policy stops it."""
    marker = tmp_path / "marker"
    git = gittags._Git("ext::sh", str(tmp_path), local=False)
    for url in (f"ext::sh -c touch% {marker}", f"file://{tmp_path}"):
        with pytest.raises(GitError, match="transport .* not allowed"):
            git("ls-remote", "--", url, timeout=30)
    assert not marker.exists()


def test_a_directory_that_is_not_a_repository(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(GitError, match=r"plain: git clone failed: .*") as caught:
        read_signed_tags(str(tmp_path / "plain"), tmp_path / "cache")
    assert "\n" not in str(caught.value)
    assert not any((tmp_path / "cache").iterdir())  # no half-made mirror left behind


def test_network_errors_name_the_repository_without_its_password(tmp_path):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(GitError) as caught:
        read_signed_tags(f"https://keywatch:s3cret@127.0.0.1:{port}/xz.git", tmp_path / "cache")
    message = str(caught.value)
    assert message.startswith(f"https://keywatch:***@127.0.0.1:{port}/xz.git: git clone failed")
    assert "s3cret" not in message


def test_a_server_that_never_answers_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr(gittags, "NETWORK_TIMEOUT", 1)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    try:
        with pytest.raises(GitError, match="took longer than 1 s"):
            read_signed_tags(f"git://127.0.0.1:{server.getsockname()[1]}/xz.git", tmp_path / "cache")
    finally:
        for connection, _ in held:
            connection.close()
        server.close()
    assert not any((tmp_path / "cache").iterdir())


def test_the_users_git_configuration_and_hooks_are_not_used(upstream, tmp_path, monkeypatch):
    """A global config that would send git elsewhere, GIT_DIR, and hooks (global or in the mirror) change nothing."""
    home = tmp_path / "home"
    home.mkdir()
    marker = tmp_path / "hook-ran"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    hook = hooks / "reference-transaction"  # run by git on every ref update, fetch included
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    (home / ".gitconfig").write_text(f'[url "/nonexistent/"]\n\tinsteadOf = {upstream.path}\n'
                                     f"[core]\n\thooksPath = {hooks}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    cache = tmp_path / "cache"
    assert "v5.4.0" in {tag.name for tag in read_signed_tags(str(upstream.path), cache)}
    [mirror] = cache.iterdir()
    shutil.copy(hook, mirror / "hooks" / hook.name)
    upstream.git("tag", "hook-bait")
    try:
        assert "hook-bait" in {tag.name for tag in read_signed_tags(str(upstream.path), cache)}
    finally:
        upstream.git("tag", "-d", "hook-bait")
    assert not marker.exists()
