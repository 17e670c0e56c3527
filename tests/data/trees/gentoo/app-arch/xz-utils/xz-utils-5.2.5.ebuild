# Copyright 1999-2022 Gentoo Authors
# Distributed under the terms of the GNU General Public License v2
# An older version: import-tree reads the newest ebuild only.
EAPI=7
inherit verify-sig
SRC_URI="https://tukaani.org/xz/xz-${PV}.tar.gz verify-sig? ( https://tukaani.org/xz/xz-${PV}.tar.gz.sig )"
VERIFY_SIG_OPENPGP_KEY_PATH=${BROOT}/usr/share/openpgp-keys/lassecollin.asc
BDEPEND="verify-sig? ( sec-keys/openpgp-keys-lassecollin )"
