"""`keywatch import-tree`: every upstream a packaging tree describes, its keys and release URLs, and nothing skipped.

The Debian tree is made of real bookworm source packages (their `debian/watch`
and `debian/upstream/signing-key.asc`, see tests/data/trees/README.md); the
openSUSE, Arch and Gentoo trees are hand-made around the same real keys. Each
tree holds deliberately broken files, which must come back as problems.

Expected fingerprints are written out here as `sq inspect` printed them, not
computed by keywatch; release URLs are checked by feeding the derived index
and pattern to `releases.find_releases` with a listing of the real files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kwrunner import Keywatch, Result
from keywatch.packagingtree import scan_tree
from keywatch.packagingtree.bashvars import Unknown, read_script, ver_cut, ver_rs
from keywatch.packagingtree.debian import derive_line, parse_watch
from keywatch.packagingtree.opensuse import read_spec
from keywatch.packagingtree.perlregex import parse_rule, to_python
from keywatch.packagingtree.releaseurl import NotDerivable, derive
from keywatch.releases import find_releases
from keywatch.verifyfile import load_keyring

TREES = Path(__file__).parent / "data" / "trees"
DISTFILES = TREES / "gentoo-distfiles"

LASSE_COLLIN = "3690C240CE51B4670D30AD1C38EE757D69184620"
GNUPG = ["5B80C5754298F0CB55D8ED6ABCEF7E294B092E28", "6DAA6E64A76D2840571B4902528897B826403ADA",
         "AC8E115BF73E2D8D47FA9908E98E9B2D19C6C8BD"]
CURL = ["914C533DF9B2ADA2204F586D78E11C6B279D5C91", "4461EAF0F8E9097F48AF0555F9FEAFF9D34A1BDB",
        "27EDEAF22F3ABCEB50DB9A125CC908FDB71E12C2"]
NIELS_MOLLER = "343C2FF0FBEE5EC2EDBEF399F3599FF828C67298"
JIM_MEYERING = "155D3FC500C834486D1EEA677FD9FCCB000BEEEE"
DAMIEN_MILLER = ["59C2118ED206D927E667EBE3D3E5F56B6D920D30", "7168B983815A5EEF59A4ADFD2A3F414E736060BA"]
ARNOLD_ROBBINS = "D1967C63788713177D861ED7DF597815937EC0D2"


def import_tree(kw: Keywatch, *args: str, check: bool = False) -> Result:
    """`keywatch import-tree` as a user runs it."""
    return kw("import-tree", *args, check=check)


def by_name(report: dict) -> dict[str, dict]:
    return {u["name"]: u for u in report["upstreams"]}


def problems_of(report: dict, file: str) -> list[str]:
    return [f"{p['line']}: {p['message']}" for p in report["problems"] if p["file"] == file]


def releases_on(upstream: dict, *files: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """What keywatch's poller would find on the upstream's index page listing `files` (and their signatures)."""
    links = [name for file in files for name in (file, file + upstream["signature_suffixes"][0])]
    page = "".join(f'<a href="{name}">{name}</a>\n' for name in links + ["../", "README", "sha256sums.txt"])
    found = find_releases(page, upstream["index"], upstream["pattern"], upstream["signature_suffixes"])
    return [(r.version, r.artifact_url, r.signature_urls) for r in found]


# --- Debian: real source packages ------------------------------------------------------------------

@pytest.fixture(scope="module")
def debian(tmp_path_factory) -> tuple[Keywatch, dict]:
    kw = Keywatch(tmp_path_factory.mktemp("debian") / "ws")
    kw("init", str(kw.workspace))
    result = import_tree(kw, "--json", "--actor", "alice@example.org", str(TREES / "debian"))
    assert result.code == 1, result.stderr  # the broken packages are problems
    return kw, result.json()


# name: (fingerprints, index, signature suffixes, the real release file, its version)
DEBIAN = {
    "xz-utils": ([LASSE_COLLIN], "https://tukaani.org/xz/", [".sig"], "xz-5.4.1.tar.xz", "5.4.1"),
    "curl": (CURL, "https://curl.se/download/", [".asc", ".gpg", ".pgp", ".sig", ".sign"],
             "curl-7.88.1.tar.gz", "7.88.1"),
    "libgpg-error": (GNUPG, "https://gnupg.org/ftp/gcrypt/libgpg-error/", [".sig"],
                     "libgpg-error-1.46.tar.bz2", "1.46"),
    "libgcrypt20": (["46CC730865BB5C78EBABADCF04376F3EE0856959", "7B96D396E6471601754BE4DB53B620D01CE0C630",
                     "6BD9050FD8FC941B43412DCC68B7AB8957548DCD", "D8692123C4065DEA5E0F3AB5249B39D24F25E3B6",
                     "031EC2536E580D8EA286A9F22071B08A33BD3F06", GNUPG[0], GNUPG[1]],
                    "https://gnupg.org/ftp/gcrypt/libgcrypt/", [".sig"], "libgcrypt-1.10.1.tar.bz2", "1.10.1"),
    "nettle": ([NIELS_MOLLER], "https://ftp.gnu.org/gnu/nettle/", [".sig"], "nettle-3.8.1.tar.gz", "3.8.1"),
    "gawk": ([ARNOLD_ROBBINS], "http://ftp.gnu.org/gnu/gawk/", [".sig"], "gawk-5.2.1.tar.gz", "5.2.1"),
    "sed": ([JIM_MEYERING], "https://ftp.gnu.org/gnu/sed/", [".sig"], "sed-4.9.tar.xz", "4.9"),
    "openssh": (DAMIEN_MILLER, "https://ftp.openbsd.org/pub/OpenBSD/OpenSSH/portable/", [".asc"],
                "openssh-9.2p1.tar.gz", "9.2p1"),
    "bison": (["7DF84374B1EE1F9764BBE25D0DDCAA3278D5264E"], "https://ftp.gnu.org/gnu/bison/",
              [".asc", ".gpg", ".pgp", ".sig", ".sign"], "bison-3.8.2.tar.xz", "3.8.2"),
}


def test_debian_every_upstream_is_found(debian):
    _, report = debian
    statuses = {u["name"]: u["status"] for u in report["upstreams"]}
    assert statuses == {**{name: "added" for name in DEBIAN}, "gnutls28": "added", "brokenwatch": "added",
                        "brokenkey": "not-imported"}


@pytest.mark.parametrize("name", sorted(DEBIAN))
def test_debian_keys_and_release_urls(debian, name):
    _, report = debian
    fingerprints, index, suffixes, release, version = DEBIAN[name]
    upstream = by_name(report)[name]
    assert upstream["fingerprints"] == fingerprints
    assert upstream["keyring_format"] == "debian"
    assert upstream["keyring_source"] == [f"{name}/debian/upstream/signing-key.asc"]
    assert upstream["index"] == index
    assert upstream["signature_suffixes"] == suffixes
    url = index + release
    assert releases_on(upstream, release) == [(version, url, (url + suffixes[0],))]


def test_debian_version_4_substitutions_become_python_patterns(debian):
    _, report = debian
    pattern = by_name(report)["libgpg-error"]["pattern"]
    assert pattern.startswith("libgpg-error(?:[-_]?(")  # @PACKAGE@@ANY_VERSION@
    assert "(?i:" in pattern  # @ARCHIVE_EXT@'s (?i) scoped, as Python needs


def test_debian_pattern_with_a_slash_matches_the_whole_url(debian):
    _, report = debian
    curl = by_name(report)["curl"]
    assert curl["pattern"] == r"(?:.*/)?download/curl-([\d\.]+).tar.gz"
    # links written absolute, root-relative or relative all resolve to the same release
    page = ('<a href="/download/curl-7.88.1.tar.gz">a</a> <a href="https://curl.se/download/curl-7.87.0.tar.gz">b</a>'
            '<a href="curl-7.86.0.tar.gz">c</a>')
    found = find_releases(page, curl["index"], curl["pattern"], curl["signature_suffixes"])
    assert [r.version for r in found] == ["7.86.0", "7.87.0", "7.88.1"]


def test_debian_problems_file_by_file(debian):
    _, report = debian
    assert problems_of(report, "brokenkey/debian/upstream/signing-key.asc") == [
        "None: keyring does not parse: brokenkey/debian/upstream/signing-key.asc: not valid OpenPGP data: "
        "Invalid ASCII Armor footer."]
    broken = problems_of(report, "brokenwatch/debian/watch")
    assert [p.split(":")[0] for p in broken] == ["3", "4", "5", "5"]
    assert "malformed opts=" in broken[0]
    assert "no pattern with a (…) version group in 'https://example.org/releases/'" in broken[1]
    assert "unrecognised option 'frobnicate=yes'" in broken[2]
    assert r"pgpsigurlmangle s/\.tar\.gz$/.sign/ does not append a suffix" in broken[3]
    assert problems_of(report, "gnutls28/debian/watch") == [
        "None: no watch line could be used: releases cannot be found (keyring imported alone)",
        r"2: the directory part of 'https://www.gnupg.org/ftp/gcrypt/gnutls/v3.(\d+)/' is a pattern (uscan "
        "searches the newest matching directory); keywatch polls one fixed index page, so no index was set"]
    assert problems_of(report, "nettle/debian/watch") == [
        "2: ftp:// is not polled (keywatch reads http(s) index pages only)",
        "6: ftp:// is not polled (keywatch reads http(s) index pages only)",
        "8: not used: keywatch watches one release source per upstream (line 4 is used)"]
    assert problems_of(report, "patch/debian/watch") == [
        "None: no debian/upstream/signing-key.asc: the package has no approved keyring, so there is no "
        "baseline to import"]


def test_debian_nothing_is_silently_skipped(debian):
    _, report = debian
    accounted = {u["package"] for u in report["upstreams"]} | {p["file"].split("/")[0] for p in report["problems"]}
    assert accounted == {p.name for p in (TREES / "debian").iterdir() if p.is_dir()}
    # what is understood but not carried over is said too
    assert any("dversionmangle" in note for note in by_name(report)["xz-utils"]["notes"])
    assert any("uversionmangle" in note for note in by_name(report)["nettle"]["notes"])


def test_debian_import_writes_config_keyrings_store_and_audit(debian):
    kw, report = debian
    upstreams = {u["name"]: u for u in kw("upstream", "list", "--json").json()}
    assert set(upstreams) == set(DEBIAN) | {"gnutls28", "brokenwatch"}
    xz = upstreams["xz-utils"]
    assert (xz["keyring"], xz["keyring_format"], xz["index"], xz["pattern"], xz["signature_suffixes"]) == (
        "keyrings/debian/xz-utils/signing-key.asc", "debian", "https://tukaani.org/xz/",
        r"xz-([\d.]*(?:beta)?)\.tar\.xz", [".sig"])
    assert upstreams["gnutls28"]["index"] is None and upstreams["gnutls28"]["keyring"]
    for name in DEBIAN:  # copied byte for byte, in the original format
        copy = kw.workspace / upstreams[name]["keyring"]
        assert copy.read_bytes() == (TREES / "debian" / name / "debian/upstream/signing-key.asc").read_bytes()
        assert [c.fingerprint for c in load_keyring(copy)] == DEBIAN[name][0]
    stored = {k["fingerprint"] for k in kw("key", "list", "--json").json()}
    assert {f for fingerprints, *_ in DEBIAN.values() for f in fingerprints} <= stored
    entries = kw("audit", "log", "--json", "--action", "import-baseline", "--limit", "100").json()
    assert sorted(e["subject"] for e in entries) == sorted(upstreams)
    assert {e["actor"] for e in entries} == {"alice@example.org"}
    xz_entry = next(e for e in entries if e["subject"] == "xz-utils")
    assert xz_entry["details"]["fingerprints"] == [LASSE_COLLIN]
    assert xz_entry["details"]["keyring_sha256"] == {
        "signing-key.asc": __import__("hashlib").sha256(
            (TREES / "debian/xz-utils/debian/upstream/signing-key.asc").read_bytes()).hexdigest()}
    assert kw("audit", "verify", "--json").json()["intact"] is True


def test_running_twice_changes_nothing(debian):
    kw, first = debian
    config = (kw.workspace / "keywatch.toml").read_bytes()
    audit_count = kw("audit", "verify", "--json").json()["entries"]
    again = import_tree(kw, "--json", str(TREES / "debian")).json()
    assert {u["status"] for u in again["upstreams"]} == {"exists", "not-imported"}
    assert (kw.workspace / "keywatch.toml").read_bytes() == config
    assert kw("audit", "verify", "--json").json()["entries"] == audit_count
    assert again["problems"] == first["problems"]


# --- openSUSE ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def opensuse(tmp_path_factory) -> tuple[Keywatch, dict]:
    kw = Keywatch(tmp_path_factory.mktemp("opensuse") / "ws")
    kw("init", str(kw.workspace))
    result = import_tree(kw, "--json", str(TREES / "opensuse"))
    assert result.code == 1, result.stderr
    return kw, result.json()


@pytest.mark.parametrize("name,fingerprints,release,suffix", [
    ("xz", [LASSE_COLLIN], "https://tukaani.org/xz/xz-5.4.1.tar.xz", ".sig"),  # %{url}%{name}-%{version}
    ("libgpg-error", GNUPG, "https://gnupg.org/ftp/gcrypt/libgpg-error/libgpg-error-1.46.tar.bz2", ".sig"),  # %global
    ("curl", CURL, "https://curl.se/download/curl-7.88.1.tar.xz", ".asc"),  # Name: %{_name} from %define
])
def test_opensuse_keys_and_release_urls(opensuse, name, fingerprints, release, suffix):
    _, report = opensuse
    upstream = by_name(report)[name]
    assert upstream["status"] == "added"
    assert upstream["fingerprints"] == fingerprints
    assert upstream["keyring_format"] == "opensuse"
    assert upstream["keyring"] == f"keyrings/opensuse/{name}/{name}.keyring"
    assert upstream["release_url"] == release
    assert upstream["signature_suffixes"] == [suffix]
    directory, file = release.rsplit("/", 1)
    assert upstream["index"] == directory + "/"
    version = file.split("-")[-1].removesuffix(".tar.xz").removesuffix(".tar.bz2")
    assert releases_on(upstream, file) == [(version, release, (release + suffix,))]


def test_opensuse_problems(opensuse):
    _, report = opensuse
    assert by_name(report)["nettle"]["status"] == "not-imported"
    assert problems_of(report, "nettle/nettle.keyring")[0].startswith("None: keyring does not parse")
    assert problems_of(report, "nettle/nettle.spec") == [
        "None: no Source: is an http(s) tarball URL: releases cannot be found (keyring imported alone)",
        "9: Source0: %(echo %{version}) runs a shell command, which is not done"]
    assert problems_of(report, "zlib/zlib.spec") == [
        "None: no zlib.keyring beside the spec: the package has no approved keyring, so there is no baseline "
        "to import"]
    assert {p["file"].split("/")[0] for p in report["problems"]} | {u["package"] for u in report["upstreams"]} == {
        p.name for p in (TREES / "opensuse").iterdir()}


# --- Arch ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def arch(tmp_path_factory) -> tuple[Keywatch, dict]:
    kw = Keywatch(tmp_path_factory.mktemp("arch") / "ws")
    kw("init", str(kw.workspace))
    result = import_tree(kw, "--json", str(TREES / "arch"))
    assert result.code == 1, result.stderr
    return kw, result.json()


def test_arch_validpgpkeys_match_keys_pgp(arch):
    _, report = arch
    upstreams = by_name(report)
    assert upstreams["libgpg-error"]["declared_fingerprints"] == GNUPG
    assert upstreams["libgpg-error"]["fingerprints"] == GNUPG
    assert upstreams["sed"]["declared_fingerprints"] == upstreams["sed"]["fingerprints"] == [JIM_MEYERING]
    assert upstreams["libgpg-error"]["keyring"] == "keyrings/arch/libgpg-error/keys/pgp"
    assert problems_of(report, "libgpg-error/PKGBUILD") == problems_of(report, "sed/PKGBUILD") == []


@pytest.mark.parametrize("name,release,suffix", [
    # "…/${pkgname}-${pkgver}.tar.bz2"{,.sig}: quoted expansions, then brace expansion
    ("libgpg-error", "https://www.gnupg.org/ftp/gcrypt/libgpg-error/libgpg-error-1.46.tar.bz2", ".sig"),
    # unquoted $pkgname-$pkgver.tar.xz{,.sig}
    ("sed", "https://ftp.gnu.org/pub/gnu/sed/sed-4.9.tar.xz", ".sig"),
    ("openssh", "https://ftp.openbsd.org/pub/OpenBSD/OpenSSH/portable/openssh-9.2p1.tar.gz", ".asc"),
])
def test_arch_release_urls(arch, name, release, suffix):
    _, report = arch
    upstream = by_name(report)[name]
    assert upstream["release_url"] == release and upstream["signature_suffixes"] == [suffix]
    file = release.rsplit("/", 1)[1]
    [(version, url, signatures)] = releases_on(upstream, file)
    assert (url, signatures) == (release, (release + suffix,))


def test_arch_signed_git_tag_source(arch):
    _, report = arch
    xz = by_name(report)["xz"]
    assert (xz["git"], xz["index"], xz["fingerprints"]) == ("https://git.tukaani.org/xz.git", None, [LASSE_COLLIN])
    assert __import__("re").fullmatch(xz["tag_pattern"], "v5.4.1").group(1) == "5.4.1"


def test_arch_problems(arch):
    kw, report = arch
    assert problems_of(report, "openssh/PKGBUILD") == [
        "12: source: line 13: $(curl -s https://example.org/extra-source) is a command substitution, "
        "which is not run",
        "16: validpgpkeys names 59C2118ED206D927E667EBE3D3E5F56B6D920D30, which is not in openssh/keys/pgp/",
        "17: validpgpkeys entry 'D3E5F56B6D920D30' is not a full fingerprint (makepkg needs one)"]
    assert problems_of(report, "gawk/PKGBUILD") == [
        "11: cannot read: array not closed: ')' missing",
        "11: validpgpkeys cannot be read, so the keys/pgp/ files cannot be checked against it"]
    # the keys it does have are still the baseline, and still one file per key
    copied = kw.workspace / "keyrings/arch/openssh/keys/pgp"
    assert sorted(p.name for p in copied.iterdir()) == [DAMIEN_MILLER[1] + ".asc"]


def test_arch_a_key_file_not_in_validpgpkeys_is_reported(tmp_path):
    package = tmp_path / "tree" / "xz"
    shutil.copytree(TREES / "arch" / "xz", package)
    shutil.copy(TREES / "arch/sed/keys/pgp" / f"{JIM_MEYERING}.asc", package / "keys/pgp" / "wrong-name.asc")
    scan = scan_tree(tmp_path / "tree")
    assert [(p.file, p.message) for p in scan.problems] == [
        ("xz/keys/pgp/wrong-name.asc", f"file is named WRONG-NAME but holds {JIM_MEYERING}"),
        ("xz/keys/pgp/wrong-name.asc", f"key {JIM_MEYERING} is in the keyring but not in validpgpkeys "
                                       "(makepkg would not accept signatures by it)")]


# --- Gentoo ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gentoo(tmp_path_factory) -> tuple[Keywatch, dict]:
    kw = Keywatch(tmp_path_factory.mktemp("gentoo") / "ws")
    kw("init", str(kw.workspace))
    result = import_tree(kw, "--json", "--distfiles", str(DISTFILES), str(TREES / "gentoo"))
    assert result.code == 1, result.stderr
    return kw, result.json()


@pytest.mark.parametrize("name,fingerprints,release,key_source", [
    # the newest released ebuild (not 9999, not 5.2.5); MY_P="${PN/-utils}-${PV/_}"; key from files/
    ("xz-utils", [LASSE_COLLIN], "https://tukaani.org/xz/xz-5.4.1.tar.gz",
     "https://tukaani.org/misc/lasse_collin_pubkey.txt"),
    # mirror://gnupg/, key only in the distfiles directory
    ("libgpg-error", GNUPG, "https://gnupg.org/ftp/gcrypt/libgpg-error/libgpg-error-1.46.tar.bz2",
     "https://gnupg.org/signature_key.asc"),
    # mirror://gnu/, SLOT uses $(ver_cut 1-2)
    ("nettle", [NIELS_MOLLER], "https://ftp.gnu.org/gnu/nettle/nettle-3.8.1.tar.gz",
     "https://www.lysator.liu.se/~nisse/archive/distribution-key.gpg"),
])
def test_gentoo_keys_and_release_urls(gentoo, name, fingerprints, release, key_source):
    _, report = gentoo
    upstream = by_name(report)[name]
    assert upstream["status"] == "added"
    assert upstream["fingerprints"] == fingerprints
    assert upstream["keyring_format"] == "gentoo"
    assert upstream["keys"] == [key_source]
    assert upstream["release_url"] == release
    assert upstream["signature_suffixes"] == [".sig"]
    file = release.rsplit("/", 1)[1]
    [(_, url, signatures)] = releases_on(upstream, file)
    assert (url, signatures) == (release, (release + ".sig",))


def test_gentoo_problems(gentoo):
    _, report = gentoo
    assert by_name(report)["badkey"]["status"] == "not-imported"
    assert problems_of(report, "app-misc/badkey/badkey-2.0.ebuild") == [
        "5: SRC_URI: line 5: $(get_version_component_range 1-2) is a command substitution, which is not run",
        "5: SRC_URI is not readable: releases cannot be found (keyring imported alone)"]
    assert problems_of(report, "sec-keys/openpgp-keys-broken/files/broken.asc")[0].startswith(
        "None: keyring does not parse")
    assert problems_of(report, "app-misc/nokeys/nokeys-1.0.ebuild") == [
        "6: no sec-keys package in the tree provides nobody.asc: no keyring"]
    # the xz-utils ebuild's `if [[ ${PV} == 9999 ]]` is decided, not reported
    assert problems_of(report, "app-arch/xz-utils/xz-utils-5.4.1.ebuild") == []


def test_gentoo_without_distfiles_says_where_the_key_would_be(tmp_path):
    scan = scan_tree(TREES / "gentoo")
    [problem] = [p for p in scan.problems if p.file == "sec-keys/openpgp-keys-gnupg"]
    assert "key file for gnupg.asc not found in the tree" in problem.message
    assert "openpgp-keys-gnupg-20230101.asc" in problem.message and "--distfiles" in problem.message


# --- the whole tree, dry run, existing upstreams -----------------------------------------------------------

def test_dry_run_writes_nothing(kw):
    config = (kw.workspace / "keywatch.toml").read_bytes()
    result = import_tree(kw, "--dry-run", "--json", str(TREES / "opensuse"))
    assert {u["name"]: u["status"] for u in result.json()["upstreams"]} == {
        "xz": "would-add", "libgpg-error": "would-add", "curl": "would-add", "nettle": "not-imported"}
    assert by_name(result.json())["xz"]["keyring"] == "keyrings/opensuse/xz/xz.keyring"
    assert (kw.workspace / "keywatch.toml").read_bytes() == config
    assert list((kw.workspace / "keyrings").iterdir()) == []
    assert kw("audit", "verify", "--json").json()["entries"] == 0


def test_one_tree_of_all_four_distributions(kw):
    result = import_tree(kw, "--distfiles", str(DISTFILES), str(TREES))
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert lines[-1] == "12 upstreams added, 2 not, 35 problems"
    # the same upstream in two trees is reported, with whether its keys agree, and imported once
    assert ("keywatch: problem: opensuse/xz/xz.keyring: upstream 'xz' was already found in arch/xz (arch), "
            "with the same keys: not imported twice") in result.stderr
    assert "opensuse/nettle/nettle.keyring: keyring does not parse" in result.stderr  # duplicates are read too
    assert "upstream 'nettle' was already found in debian/nettle (debian), with other keys" in result.stderr


def test_an_existing_upstream_is_reported_not_overwritten(kw, tmp_path):
    # the approved baseline for xz holds another key than the tree's
    other = kw.workspace / "keyrings" / "xz.keyring"
    shutil.copy(TREES / "debian/sed/debian/upstream/signing-key.asc", other)
    kw("upstream", "add", "xz", "--keyring", "keyrings/xz.keyring")
    config = (kw.workspace / "keywatch.toml").read_bytes()
    report = import_tree(kw, "--json", str(TREES / "arch" / "xz")).json()
    assert [(u["name"], u["status"], u["keyring"]) for u in report["upstreams"]] == [
        ("xz", "exists", "keyrings/xz.keyring")]
    assert report["problems"] == [{
        "file": f"keys/pgp/{LASSE_COLLIN}.asc", "line": None,
        "message": f"upstream 'xz' exists with another keyring (not approved: {LASSE_COLLIN}; missing: "
                   f"{JIM_MEYERING}): not overwritten — review the change instead"}]
    assert (kw.workspace / "keywatch.toml").read_bytes() == config
    assert other.read_bytes() == (TREES / "debian/sed/debian/upstream/signing-key.asc").read_bytes()


def test_actor_defaults_to_the_os_user(kw):
    import_tree(kw, str(TREES / "arch" / "sed"), check=True)
    [entry] = kw("audit", "log", "--json").json()
    assert entry["action"] == "import-baseline" and entry["subject"] == "sed"
    assert entry["actor"] == __import__("getpass").getuser()


def test_without_a_workspace_it_says_so(tmp_path):
    result = import_tree(Keywatch(tmp_path / "nowhere"), str(TREES / "arch"))
    assert result.code == 1 and "no keywatch workspace" in result.stderr


# --- the readers, one rule at a time ------------------------------------------------------------------------

def test_watch_continuation_drops_leading_blanks_in_version_4_only():
    text = "version={v}\nopts=pgpsigurlmangle=s/$/.sig/ \\\n   https://example.org/@PACKAGE@-(\\d+)\\.tar\\.gz\n"
    v4 = parse_watch(text.format(v=4), "foo").lines[0]
    v3 = parse_watch(text.format(v=3), "foo").lines[0]
    assert (v4.base, v4.filepattern) == ("https://example.org/", r"foo-(\d+)\.tar\.gz")
    assert (v3.base, v3.filepattern) == ("https://example.org/", r"foo-(\d+)\.tar\.gz")  # blanks split fields


@pytest.mark.parametrize("watch,problem", [
    ("https://example.org/x-(\\d+).tar.gz\n", "no 'version=' line first"),
    ("version=5\nSource: https://example.org\n", "a version 5 (deb822) watch file is not supported"),
    ("version=4\nhttps://example.org/x-(\\d+).tar.gz \\\n", "ends with a line continuation"),
])
def test_watch_files_not_read_say_why(watch, problem):
    assert any(problem in message for _, message in parse_watch(watch, "x").problems)


@pytest.mark.parametrize("line,expected", [
    ("opts=pgpsigurlmangle=s/$/.asc/ https://h/d/p-(\\d+)\\.tgz", ([".asc"], [])),
    ('opts="pgpsigurlmangle=s%$%.sig%" https://h/d/ p-(\\d+)\\.tgz debian uupdate', ([".sig"], [])),
    ("opts=pgpmode=auto https://h/d/p-(\\d+)\\.tgz", ([".asc", ".gpg", ".pgp", ".sig", ".sign"], [])),
    ("opts=pgpmode=none https://h/d/p-(\\d+)\\.tgz", (None, ["pgpmode=none: uscan checks no signature"])),
    ("https://h/d/p-(\\d+)\\.tgz", (None, ["no pgpsigurlmangle or pgpmode=auto"])),
    ("opts=pgpsigurlmangle=s/$/.sig/,downloadurlmangle=s/x/y/ https://h/d/p-(\\d+)\\.tgz",
     ([".sig"], ["downloadurlmangle changes which URL uscan fetches"])),
    ("opts=pgpsigurlmangle=s/$/.sig/ https://h/d/p-(\\d+)\\.(\\d+)\\.tgz", ([".sig"], ["has 2 groups"])),
])
def test_watch_line_signatures_and_limits(line, expected):
    suffixes, problems = expected
    derived = derive_line(parse_watch(f"version=4\n{line}\n", "p").lines[0])
    if suffixes is not None:
        assert derived.suffixes == suffixes
    assert len(derived.problems) == len(problems)
    for wanted, got in zip(problems, derived.problems):
        assert wanted in got


def test_watch_git_mode_gives_a_repository_and_tag_pattern():
    line = parse_watch("version=4\nopts=mode=git,pgpmode=gittag https://git.example.org/p.git "
                       "refs/tags/v([\\d.]+)\n", "p").lines[0]
    derived = derive_line(line)
    assert (derived.git, derived.tag_pattern, derived.problems) == ("https://git.example.org/p.git", r"v([\d.]+)", [])


@pytest.mark.parametrize("rule,before,after", [
    ("s/$/.sig/", "x.tar.gz", "x.tar.gz.sig"),
    ("s%$%.sig%", "x", "x.sig"),
    ("s{\\.tar\\.gz$}{.tar.gz.asc}", "x.tar.gz", "x.tar.gz.asc"),
    ("s/(.*\\d)(pre\\d*)$/$1~$2/", "3.8pre1", "3.8~pre1"),
    ("s/[_-]/\\~/g", "1.2-rc_1", "1.2~rc~1"),
    ("tr/A-Z/a-z/", "ABC", "abc"),
    ("y/_/./", "1_2_3", "1.2.3"),
])
def test_perl_rules(rule, before, after):
    assert parse_rule(rule).apply(before) == after


@pytest.mark.parametrize("rule", ["s/a/\\U$1/", "s/a/b/e", "nothing", "s/a(/b/"])
def test_perl_rules_that_cannot_be_translated_are_refused(rule):
    with pytest.raises(ValueError):
        parse_rule(rule)


def test_perl_inline_flags_are_scoped_for_python():
    assert to_python("a(?:b(?i)c)d[[:digit:]]+(?<v>x)\\z") == "a(?:b(?i:c))d[0-9]+(?P<v>x)\\Z"


def test_bash_reader_declarations():
    script = read_script(r'''
pkgname=('libfoo' 'libfoo-docs')
pkgver=1.2.3
_dir="${pkgname%-*}/v${pkgver%%.*}"   # pkgname is an array: its first element
source=("https://example.org/$_dir/${pkgname}-${pkgver}.tar.gz"{,.sig}
        "renamed.tgz::https://example.org/${pkgver//./_}.tgz"  # a comment inside
        $'ansi\tc' ${_empty:-fallback} "${pkgname[@]}")
build() { cat <<EOF
} unbalanced inside a heredoc
EOF
}
if [[ ${pkgver} == 1.* ]]; then picked=then; else picked=else; fi
[[ -n $x ]] && maybe=1
evil=$(rm -rf /)
''')
    assert script.value("_dir") == "libfoo/v1"
    assert script.value("source") == [
        "https://example.org/libfoo/v1/libfoo-1.2.3.tar.gz", "https://example.org/libfoo/v1/libfoo-1.2.3.tar.gz.sig",
        "renamed.tgz::https://example.org/1_2_3.tgz", "ansi\tc", "fallback", "libfoo", "libfoo-docs"]
    assert script.value("picked") == "then"
    assert [a.conditional for a in script.assignments_of("maybe")] == [True]
    assert isinstance(script.value("evil"), Unknown) and "not run" in script.value("evil").reason
    assert script.syntax_errors == []


def test_gentoo_version_functions():
    assert ver_cut("1-2", "5.4.1") == "5.4"
    assert ver_cut("3-", "1.2.3b_alpha4") == "3b_alpha4"
    assert ver_rs(["1-", "_"], "5.4.1_rc2") == "5_4_1_rc_2"
    assert read_script('MY_PV=$(ver_rs 1 - "${PV}")', {"PV": "1.2.3"}).value("MY_PV") == "1-2.3"


def test_spec_macros(tmp_path):
    spec_path = tmp_path / "foo.spec"
    spec_path.write_text("%global base https://example.org\n%define major 2\nName: foo\nVersion: %{major}.5\n"
                         "URL: %{base}/%{name}\nSource0: %{url}/%{name}-%{version}%{?dist}.tar.xz\n"
                         "Source1: %{!?nothing:%{url}/%{name}-%{version}.tar.xz.asc}\nSource2: %{_libdir}/x\n")
    spec = read_spec(spec_path)
    assert spec.expand(spec.sources[0][0]) == "https://example.org/foo/foo-2.5.tar.xz"
    assert spec.expand(spec.sources[1][0]) == "https://example.org/foo/foo-2.5.tar.xz.asc"
    with pytest.raises(ValueError, match="_libdir"):
        spec.expand(spec.sources[2][0])


@pytest.mark.parametrize("url,version,index,pattern", [
    ("https://example.org/d/foo-1.2.tar.gz", "1.2", "https://example.org/d/", r"foo-(\d[-+.~\dA-Za-z]*)\.tar\.gz"),
    ("https://example.org/d/foo1-1.tar.gz#/renamed.tgz", "1", "https://example.org/d/",
     r"foo1-(\d[-+.~\dA-Za-z]*)\.tar\.gz"),
    ("mirror://gnu/hello/hello-2.12.tar.gz", "2.12", "https://ftp.gnu.org/gnu/hello/",
     r"hello-(\d[-+.~\dA-Za-z]*)\.tar\.gz"),
])
def test_index_and_pattern_from_a_tarball_url(url, version, index, pattern):
    source = derive(url, version)
    assert (source.index, source.pattern) == (index, pattern)


@pytest.mark.parametrize("url,version,why", [
    ("https://example.org/v1.2/foo-1.2.tar.gz", "1.2", "the directory changes with every version"),
    ("https://example.org/d/foo-1_2.tar.gz", "1.2", "does not contain the version 1.2"),
    ("ftp://example.org/d/foo-1.2.tar.gz", "1.2", "http(s) index pages only"),
])
def test_index_and_pattern_not_derivable(url, version, why):
    with pytest.raises(NotDerivable, match=__import__("re").escape(why)):
        derive(url, version)
