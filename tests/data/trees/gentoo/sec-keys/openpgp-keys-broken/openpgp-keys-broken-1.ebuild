# Deliberately broken for the import-tree tests: files/broken.asc is no key.
EAPI=8
DESCRIPTION="A key package whose key file does not parse"
SLOT="0"
src_install() {
	insinto /usr/share/openpgp-keys
	doins "${FILESDIR}"/broken.asc
}
