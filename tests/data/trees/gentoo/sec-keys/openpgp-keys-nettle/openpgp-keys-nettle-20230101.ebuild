# Copyright 1999-2023 Gentoo Authors
# Distributed under the terms of the GNU General Public License v2

EAPI=8

DESCRIPTION="OpenPGP key used to sign nettle releases (Niels Möller)"
HOMEPAGE="https://www.lysator.liu.se/~nisse/nettle/"
SRC_URI="https://www.lysator.liu.se/~nisse/archive/distribution-key.gpg -> ${P}.asc"
S=${WORKDIR}

LICENSE="public-domain"
SLOT="0"
KEYWORDS="amd64"

src_install() {
	insinto /usr/share/openpgp-keys
	newins "${DISTDIR}/${P}.asc" nettle.asc
}
