"""The trust commands as a user runs them: trust FPR, trust list, trust paths (and its SVG), errors.

The commands are exported as `keywatch.cli.trust.COMMANDS`; here they hang
off a small click group, exactly as `keywatch/cli/__init__.py` registers them.

    root* -(1/120)-> alice ---> bob;  root ---> mallory (a user ID made to attack DOT, SVG and terminals)
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from xml.etree import ElementTree

import certgen
import click
import pytest
from click.testing import CliRunner

from keywatch.cli.common import Context
from keywatch.cli.trust import COMMANDS
from keywatch.ingest import import_bytes
from keywatch.trust.picture import dot_string, paths_dot
from keywatch.trust.report import settings_from_config
from keywatch.workspace import init

UTC = dt.UTC
HOSTILE = 'Mallory "]; evil -> x [label="pwn" <script>alert(1)</script> \\N\\G \u202eevil\x1b[31m <m@example.org>'


def T(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    work = tmp_path_factory.mktemp("trustcli")
    keys = {name: certgen.generate_key(work, [f"{name.capitalize()} <{name}@example.org>"], created=T(2020, 1, 1),
                                       subkeys=())
            for name in ("root", "alice", "bob")}
    keys["mallory"] = certgen.generate_key(work, [HOSTILE], created=T(2020, 1, 1), subkeys=(), tool="gpg")
    alice = certgen.certify(work, keys["root"], keys["alice"].cert, keys["alice"].user_ids[0], time=T(2021, 1, 1),
                            depth=1)
    bob = certgen.certify(work, keys["alice"], keys["bob"].cert, keys["bob"].user_ids[0], time=T(2021, 1, 1))
    mallory = certgen.certify(work, keys["root"], keys["mallory"].cert, HOSTILE, time=T(2021, 1, 1))
    workspace, _ = init(work / "ws")
    store = workspace.store()
    try:
        import_bytes(store, keys["root"].cert + alice + bob + mallory, "keyring")
    finally:
        store.close()
    return work / "ws", keys


def run(space_path, *args: str, code: int = 0):
    @click.group()
    @click.pass_context
    def cli(ctx):
        ctx.obj = Context(str(space_path))

    for command in COMMANDS:
        cli.add_command(command)
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_trust_key_json(space):
    path, keys = space
    doc = json.loads(run(path, "trust", keys["bob"].fingerprint, "--root", keys["root"].fingerprint,
                         "--at", "2022-01-01", "--json").output)
    [binding] = doc["bindings"]
    assert (binding["user_id"], binding["amount"]) == ("Bob <bob@example.org>", 120)
    [path_doc] = binding["paths"]
    assert path_doc["keys"] == [keys["root"].fingerprint, keys["alice"].fingerprint, keys["bob"].fingerprint]
    assert [c["depth"] for c in path_doc["certifications"]] == [1, 0]
    assert doc["distance"] == 2 and doc["disjoint_paths"] == 1
    assert doc["risk"]["level"] in ("low", "medium", "high")
    assert set(doc) >= {"bindings", "disjoint_paths", "distance", "certifiers", "risk"}


def test_options_may_come_first(space):
    path, keys = space
    doc = json.loads(run(path, "trust", "--at", "2022-01-01", "--root", keys["root"].fingerprint,
                         keys["alice"].key_id, "--json").output)
    assert doc["fingerprint"] == keys["alice"].fingerprint and doc["amount"] == 120


def test_trust_list(space):
    path, keys = space
    listed = json.loads(run(path, "trust", "list", "--root", keys["root"].fingerprint, "--at", "2022-01-01",
                            "--json").output)
    amounts = {(e["fingerprint"], e["user_id"]): e["amount"] for e in listed}
    assert amounts == {
        (keys["root"].fingerprint, "Root <root@example.org>"): 120,
        (keys["alice"].fingerprint, "Alice <alice@example.org>"): 120,
        (keys["bob"].fingerprint, "Bob <bob@example.org>"): 120,
    }  # mallory's user ID has control characters: never authenticated (as in sq-wot)
    assert set(listed[0]) == {"fingerprint", "user_id", "amount"}
    before = json.loads(run(path, "trust", "list", "--root", keys["root"].fingerprint, "--at", "2020-06-01",
                            "--json").output)
    assert [e["fingerprint"] for e in before] == [keys["root"].fingerprint]
    text = run(path, "trust", "list", "--root", keys["root"].fingerprint, "--at", "2022-01-01").output
    assert "3 bindings" in text


def test_trust_paths_text_and_json(space):
    path, keys = space
    text = run(path, "trust", "paths", keys["bob"].fingerprint, "--root", keys["root"].fingerprint,
               "--at", "2022-01-01").output
    assert "amount 120" in text and keys["alice"].fingerprint in text
    doc = json.loads(run(path, "trust", "paths", keys["bob"].fingerprint, "--root", keys["root"].fingerprint,
                         "--at", "2022-01-01", "--json").output)
    assert doc["bindings"][0]["paths"][0]["amount"] == 120


def test_svg_of_paths_is_safe_with_hostile_user_ids(space, tmp_path):
    path, keys = space
    out = tmp_path / "paths.svg"
    run(path, "trust", "paths", keys["mallory"].fingerprint, "--root", keys["root"].fingerprint,
        "--at", "2022-01-01", "--svg", str(out))
    svg = out.read_text()
    tree = ElementTree.fromstring(svg)  # well-formed XML
    assert not any(el.tag.endswith("script") for el in tree.iter())
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "\x1b" not in svg and "\u202e" not in svg
    titles = {el.text for el in tree.iter() if el.tag.endswith("title")}
    assert "evil" not in titles and "x" not in titles  # the user ID made no nodes of its own
    assert {keys["root"].fingerprint, keys["mallory"].fingerprint} <= titles


def test_dot_escaping():
    assert dot_string('a"b') == '"a\\"b"'
    assert dot_string("\\N") == '"\\\\N"'
    assert dot_string("\n") == '"\\\\x0a"'
    report = {"fingerprint": "F" * 40, "roots": [], "bindings": [], "disjoint": []}
    assert 'label="\\"]; x\\n' in paths_dot(report, {"F" * 40: '"]; x'})


def test_human_output_escapes_user_ids(space):
    path, keys = space
    text = run(path, "trust", keys["mallory"].fingerprint, "--root", keys["root"].fingerprint,
               "--at", "2022-01-01").output
    assert "\x1b" not in text and "\u202e" not in text and "\\x1b" in text


def test_no_roots_is_a_user_error(space):
    path, keys = space
    result = run(path, "trust", keys["bob"].fingerprint, code=1)
    assert "no trust roots" in str(result.exception)


def test_unknown_root_is_a_user_error(space):
    path, keys = space
    result = run(path, "trust", keys["bob"].fingerprint, "--root", "AB" * 20, code=1)
    assert "not in the store" in str(result.exception)


def test_settings_from_config(tmp_path):
    config = SimpleNamespace(trust=SimpleNamespace(roots=[("AB" * 20, 60)], stores=["keyrings/distro.gpg"],
                                                   risk={"min_key_age_days": 90}))
    settings = settings_from_config(config, tmp_path)
    assert settings.roots == (("AB" * 20, 60),)
    assert settings.stores == (tmp_path / "keyrings/distro.gpg",)
    assert settings.thresholds.min_key_age_days == 90
    assert settings_from_config(SimpleNamespace(), tmp_path).roots == ()


def test_trust_stores_are_imported(space, tmp_path):
    """A `[trust] stores` keyring joins the graph: its certificates are imported before the question."""
    from keywatch.trust.report import prepare

    _, keys = space
    extra = tmp_path / "extra.gpg"
    extra.write_bytes(keys["root"].cert)
    workspace, _ = init(tmp_path / "ws2")
    store = workspace.store()
    try:
        prepare(store, [extra])
        assert store.resolve(keys["root"].fingerprint) == keys["root"].fingerprint
        prepare(store, [extra])  # unchanged: one hash, nothing new
    finally:
        store.close()
