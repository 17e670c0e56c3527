# Copyright 1999-2023 Gentoo Authors
# Distributed under the terms of the GNU General Public License v2

EAPI=8

DESCRIPTION="OpenPGP keys used to sign GnuPG releases"
HOMEPAGE="https://gnupg.org/signature_key.html"
SRC_URI="https://gnupg.org/signature_key.asc -> ${P}.asc"
S=${WORKDIR}

LICENSE="public-domain"
SLOT="0"
KEYWORDS="amd64 arm64"

src_install() {
	insinto /usr/share/openpgp-keys
	newins "${DISTDIR}"/${P}.asc gnupg.asc
}
