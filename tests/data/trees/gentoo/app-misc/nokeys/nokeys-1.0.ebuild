# Deliberately broken for the import-tree tests: no sec-keys package provides
# this key.
EAPI=8
inherit verify-sig
SRC_URI="https://example.org/nokeys-${PV}.tar.gz verify-sig? ( https://example.org/nokeys-${PV}.tar.gz.sig )"
VERIFY_SIG_OPENPGP_KEY_PATH=/usr/share/openpgp-keys/nobody.asc
