"""A picture of the paths from the trust roots to a key: Graphviz DOT, rendered to SVG by `dot`.

Solid arrows are the web-of-trust paths that authenticate the key's user IDs
(labelled with trust amount and depth); dashed arrows are the vertex-disjoint
certification paths from the roots (`metrics`), which exist even where no
one made a trust signature. Roots are double circles, the key is bold.

User IDs are hostile text: every label goes through `for_terminal` (control
and bidi characters become visible escapes, length is capped), then DOT
escaping (backslash first, so Graphviz's `\\N`/`\\G` escapes cannot be
triggered, then quotes); Graphviz itself escapes `<`, `>` and `&` in the SVG.
Node names are fingerprints, never text from a key.
"""

from __future__ import annotations

import shutil
import subprocess
from itertools import pairwise

from ..errors import KeywatchError
from ..untrusted import for_terminal

LABEL_CHARS = 48


def _escaped(text: str) -> str:
    safe = for_terminal(text, LABEL_CHARS).replace("\\[", "[")  # for_terminal's rich-markup escape is not needed here
    return safe.replace("\\", "\\\\").replace('"', '\\"')


def dot_string(text: str) -> str:
    """A DOT quoted string for untrusted text."""
    return f'"{_escaped(text)}"'


def _node_label(fingerprint: str, names: dict) -> str:
    name = names.get(fingerprint) or "(no user ID)"
    return f'"{_escaped(name)}\\n{fingerprint[-16:]}"'


def paths_dot(report: dict, names: dict) -> str:
    """DOT for a `report.key_report` document."""
    subject = report["fingerprint"]
    roots = {r["fingerprint"] for r in report["roots"]}
    nodes: set[str] = {subject}
    solid: dict[tuple[str, str], str] = {}
    for binding in report["bindings"]:
        for path in binding["paths"]:
            for hop in path["certifications"]:
                if hop["self_signature"]:
                    continue
                nodes.update((hop["issuer"], hop["target"]))
                label = f"{hop['amount']}" + (f"/d{hop['depth']}" if hop["depth"] else "")
                solid[(hop["issuer"], hop["target"])] = label
    dashed: set[tuple[str, str]] = set()
    for keys in report["disjoint"]:
        nodes.update(keys)
        dashed.update(pairwise(keys))
    lines = ["digraph trust {", "  rankdir=LR;", '  node [shape=box, fontname="sans-serif", fontsize=10];',
             '  edge [fontname="sans-serif", fontsize=9];']
    for fingerprint in sorted(nodes):
        attributes = [f"label={_node_label(fingerprint, names)}"]
        if fingerprint in roots:
            attributes.append("shape=doubleoctagon")
        if fingerprint == subject:
            attributes.append("style=bold")
        lines.append(f'  "{fingerprint}" [{", ".join(attributes)}];')
    for (issuer, target), label in sorted(solid.items()):
        lines.append(f'  "{issuer}" -> "{target}" [label={dot_string(label)}];')
    for issuer, target in sorted(dashed - set(solid)):
        lines.append(f'  "{issuer}" -> "{target}" [style=dashed];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_svg(dot_text: str, timeout: float = 30.0) -> str:
    """SVG from DOT with Graphviz's `dot`."""
    dot = shutil.which("dot")
    if dot is None:
        raise KeywatchError("Graphviz 'dot' is not installed: it draws the trust picture (apt-get install graphviz)")
    try:
        done = subprocess.run([dot, "-Tsvg"], input=dot_text.encode(), capture_output=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise KeywatchError(f"Graphviz took longer than {timeout:.0f} s to draw the trust picture") from None
    if done.returncode != 0:
        raise KeywatchError(f"Graphviz failed: {done.stderr.decode('utf-8', 'replace').strip()[:300]}")
    return done.stdout.decode("utf-8")
