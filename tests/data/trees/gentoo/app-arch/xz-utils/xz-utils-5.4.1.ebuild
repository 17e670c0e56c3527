# Copyright 1999-2023 Gentoo Authors
# Distributed under the terms of the GNU General Public License v2

EAPI=8

VERIFY_SIG_OPENPGP_KEY_PATH=/usr/share/openpgp-keys/lassecollin.asc
inherit libtool multilib multilib-minimal preserve-libs toolchain-funcs

if [[ ${PV} == 9999 ]] ; then
	EGIT_REPO_URI="https://git.tukaani.org/xz.git"
	inherit git-r3 autotools
	BDEPEND="sys-devel/gettext dev-vcs/cvs >=sys-devel/libtool-2"
else
	MY_P="${PN/-utils}-${PV/_}"
	SRC_URI="
		https://tukaani.org/xz/${MY_P}.tar.gz
		mirror://sourceforge/lzmautils/${MY_P}.tar.gz
		verify-sig? (
			https://tukaani.org/xz/${MY_P}.tar.gz.sig
			mirror://sourceforge/lzmautils/${MY_P}.tar.gz.sig
		)
	"
	KEYWORDS="~alpha amd64 arm arm64 hppa ~ia64"
	S="${WORKDIR}/${MY_P}"
fi

DESCRIPTION="Utils for managing LZMA compressed files"
HOMEPAGE="https://tukaani.org/xz/"
LICENSE="public-domain LGPL-2.1+ GPL-2+"
SLOT="0"
IUSE="+extra-filters nls static-libs"

if [[ ${PV} != 9999 ]] ; then
	inherit verify-sig
	BDEPEND+=" verify-sig? ( >=sec-keys/openpgp-keys-lassecollin-20230213 )"
fi

src_prepare() {
	default
	if [[ ${PV} == 9999 ]] ; then
		eautopoint
		eautoreconf
	else
		elibtoolize
	fi
}
