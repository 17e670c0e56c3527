# Deliberately broken for the import-tree tests: the key file does not parse,
# and SRC_URI needs a command this reader does not run.
EAPI=8
inherit verify-sig
SRC_URI="https://example.org/badkey-$(get_version_component_range 1-2).tar.gz"
VERIFY_SIG_OPENPGP_KEY_PATH=/usr/share/openpgp-keys/broken.asc
BDEPEND="verify-sig? ( sec-keys/openpgp-keys-broken )"
