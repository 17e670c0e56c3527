"""`keywatch demo`: the whole service on the embedded SQLite store, with an XZ-like handover to review."""

from __future__ import annotations

from pathlib import Path

import click

from ..demo import build
from ..keyview import list_keys
from ..untrusted import for_terminal
from .common import stdout
from .keys import print_key_table


@click.command("demo")
@click.argument("directory", required=False, default="keywatch-demo", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the review UI listens on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port of the review UI.")
@click.option("--no-serve", is_flag=True, help="Build and poll the demo, then exit (for scripts and tests).")
def demo_command(directory: Path, host: str, port: int, no_serve: bool) -> None:
    """Build a demo workspace in DIRECTORY where an upstream hands its releases to a new key, then serve the UI.

    A local web server plays the upstream; keywatch polls it, raises the handover
    events and leaves a high-risk proposal for two reviewers. Stop with Ctrl-C.
    """
    demo = build(directory)
    stdout.print(f"demo workspace: {for_terminal(str(directory))}  (upstream served at {demo.upstream_url})")
    if demo.real_keys:
        store = demo.workspace.store()
        try:
            real = [key for key in list_keys(store) if key["fingerprint"] in demo.real_keys]
        finally:
            store.close()
        stdout.print(f"real upstream keys imported from keyrings/, every signature verified ({len(real)}):")
        print_key_table(real)
    stdout.print("events: keywatch -w " + for_terminal(str(directory)) + " events")
    for name, password in demo.passwords.items():
        stdout.print(f"reviewer {name} / password {password}")
    if no_serve:
        demo.server.shutdown()
        return
    from waitress import serve

    from web import create_app

    stdout.print(f"review UI: http://{host}:{port}/  (Ctrl-C stops it)")
    try:
        serve(create_app(directory), host=host, port=port, threads=4)
    finally:
        demo.server.shutdown()
