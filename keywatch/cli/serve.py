"""`keywatch serve`: the review UI on waitress, a real WSGI server."""

from __future__ import annotations

import sys

import click

from .common import Context, pass_context


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port; the URL printed says which).")
@click.option("--secure-cookies", is_flag=True,
              help="Mark the session cookie Secure: set this when the UI is served over https (behind a TLS proxy).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64), help="Worker threads.")
@pass_context
def serve_command(ctx: Context, host: str, port: int, secure_cookies: bool, threads: int) -> None:
    """Serve the review UI: proposals, evidence, approvals, keys, upstreams and the audit log."""
    import waitress

    from web import create_app

    workspace = ctx.workspace()
    app = create_app(workspace.root, {"SESSION_COOKIE_SECURE": secure_cookies})
    server = waitress.create_server(app, host=host, port=port, threads=threads, ident="keywatch",
                                    clear_untrusted_proxy_headers=True)
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"keywatch review UI for {workspace.root} on http://{shown_host}:{server.effective_port}/ "
               "(Ctrl-C stops it)")
    if secure_cookies:
        click.echo("session cookies are marked Secure: open the UI through your https front end")
    sys.stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("keywatch: stopped")
    finally:
        server.close()
