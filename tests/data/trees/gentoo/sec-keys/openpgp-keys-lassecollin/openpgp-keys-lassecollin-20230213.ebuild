# Copyright 1999-2023 Gentoo Authors
# Distributed under the terms of the GNU General Public License v2

EAPI=8

DESCRIPTION="OpenPGP key used by Lasse Collin"
HOMEPAGE="https://tukaani.org/"
SRC_URI="https://tukaani.org/misc/lasse_collin_pubkey.txt -> ${P}-lassecollin.asc"
S="${WORKDIR}"

LICENSE="public-domain"
SLOT="0"
KEYWORDS="~alpha amd64 arm arm64"

src_install() {
	local files=( ${A} )
	insinto /usr/share/openpgp-keys
	newins "${DISTDIR}/${P}-lassecollin.asc" lassecollin.asc
}
