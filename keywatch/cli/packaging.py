"""Commands for packaging: verify a source file against an approved keyring, export a keyring."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import InputError
from ..keyringfiles import FORMATS, default_path, render, write_atomically
from ..untrusted import for_terminal
from ..verifyfile import load_keyring, verify_file
from .common import Context, emit_json, json_option, pass_context, stdout


@click.command("verify")
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("signature", required=False, type=click.Path(path_type=Path))
@click.option("--upstream", help="Use this upstream's packaging keyring (from keywatch.toml).")
@click.option("--keyring", type=click.Path(path_type=Path), help="Use this keyring file or keys/pgp directory.")
@click.option("--allow-extra-signers", is_flag=True, help="Accept extra signatures by keys outside the keyring.")
@json_option
@pass_context
def verify_command(ctx: Context, file: Path, signature: Path | None, upstream: str | None, keyring: Path | None,
                   allow_extra_signers: bool, as_json: bool) -> None:
    """Check FILE's detached SIGNATURE (default FILE.sig/.asc/.sign) against an approved keyring.

    Exit status: 0 when a key of the keyring, valid when it signed, signed FILE and no signature is
    bad or (without --allow-extra-signers) by a key outside the keyring; 1 otherwise (and for
    unreadable input); 2 for wrong usage.
    """
    if (upstream is None) == (keyring is None):
        raise click.UsageError("give exactly one of --upstream NAME or --keyring FILE")
    if upstream is not None:
        workspace = ctx.workspace()
        config = workspace.config().upstream(upstream)
        if config.keyring is None:
            raise InputError(f"upstream {upstream!r} has no packaging keyring configured")
        keyring = Path(config.keyring) if Path(config.keyring).is_absolute() else workspace.root / config.keyring
    verdict = verify_file(file, signature, load_keyring(keyring), allow_extra_signers=allow_extra_signers)
    if as_json:
        emit_json(verdict.as_json())
    else:
        for signer in verdict.signers:
            who = for_terminal(signer["user_id"] or "", 80)
            state = "ok" if signer["status"] == "good" and signer["valid_at_signing"] else signer["status"]
            problem = f" — {for_terminal(signer['problem'], 200)}" if signer["problem"] else ""
            stdout.print(f"{state}: {signer['fingerprint'] or signer['key_id']} {who}{problem}")
        if verdict.signed_content_note():
            stdout.print(verdict.signed_content_note())
        stdout.print("GOOD" if verdict.good else "FAILED: " + "; ".join(verdict.problems))
    if not verdict.good:
        sys.exit(1)


@click.command("export")
@click.argument("name")
@click.option("--format", "keyring_format", type=click.Choice(FORMATS), required=True)
@click.option("--output", type=click.Path(path_type=Path), help="Where to write (default: the format's usual name).")
@pass_context
def export_command(ctx: Context, name: str, keyring_format: str, output: Path | None) -> None:
    """Write upstream NAME's packaging keyring in another packaging format."""
    workspace = ctx.workspace()
    upstream = workspace.config().upstream(name)
    if upstream.keyring is None:
        raise InputError(f"upstream {name!r} has no packaging keyring configured")
    source = Path(upstream.keyring) if Path(upstream.keyring).is_absolute() else workspace.root / upstream.keyring
    target = output or Path(default_path(keyring_format, name))
    certs = load_keyring(source)
    write_atomically(target, render(certs, keyring_format))
    stdout.print(f"{len(certs)} keys written to {for_terminal(str(target))} ({keyring_format})")

