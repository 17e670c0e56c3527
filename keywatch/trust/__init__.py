"""The trust graph: how well a key is connected in the web of trust, and how risky a handover is.

- `timeline`: each certificate's validity over time (from `openpgp.validity`), computed once per version;
- `tables`: the rows derived from the store after an import, so any question is a few queries;
- `graph`: the certification graph as of a time — which certifications count (the rules, stated there);
- `wot`: authentication with Sequoia's web-of-trust semantics (trust amounts, depth, regexes, paths combined);
- `regex`: trust-signature regular expressions (RFC 4880) as Python patterns;
- `metrics`: connectivity — distance, vertex-disjoint paths (Menger), certifiers, the strong set;
- `risk`: the handover risk rules, written out above the code;
- `report`: what `keywatch trust` shows, for the CLI and the review UI;
- `picture`: the paths from the roots to a key, as Graphviz DOT and SVG.
"""
