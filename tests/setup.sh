#!/bin/sh
# Installs everything the test suite needs on a fresh Debian machine (run as root):
# the reference tools (sq, sq-wot, gpg, faketime), Graphviz, Chromium for the UI
# tests, and keywatch itself with its test extras.
set -eu
cd "$(dirname "$0")/.."
need=""
for tool in sq:sq sq-wot:sq-wot gpg:gnupg gpgv:gpgv faketime:faketime dot:graphviz chromium:chromium git:git zstd:zstd openssl:openssl; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need="$need ${tool#*:}"
done
if [ -n "$need" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -e ".[test]"
