# Copyright 1999-2023 Gentoo Authors
EAPI=8
inherit git-r3 verify-sig
EGIT_REPO_URI="https://git.tukaani.org/xz.git"
VERIFY_SIG_OPENPGP_KEY_PATH=/usr/share/openpgp-keys/lassecollin.asc
