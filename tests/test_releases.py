"""Releases and their signature links, read from the download pages upstreams really publish.

The pages below are trimmed copies of what Apache, nginx and lighttpd autoindex
modules, GitHub's release page and plain FTP-style listings serve.
"""

from __future__ import annotations

import random

import pytest

from keywatch import releases
from keywatch.errors import ConfigError
from keywatch.releases import MAX_LINKS, Release, compile_pattern, find_releases

SIGS = (".sig", ".asc", ".sign")
XZ = r"xz-([\d.]+(?:alpha|beta)?)\.tar\.(?:gz|xz|bz2)"

APACHE = b"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html>
 <head>
  <title>Index of /xz</title>
 </head>
 <body>
<h1>Index of /xz</h1>
  <table>
   <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">Name</a></th>
   <th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th></tr>
   <tr><th colspan="5"><hr></th></tr>
<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td><td><a href="/">Parent Directory</a></td></tr>
<tr><td><img src="/icons/compressed.gif" alt="[   ]"></td><td><a href="xz-5.4.0.tar.gz">xz-5.4.0.tar.gz</a></td><td align="right">2022-12-13 17:07  </td></tr>
<tr><td><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="xz-5.4.0.tar.gz.sig">xz-5.4.0.tar.gz.sig</a></td></tr>
<tr><td><img src="/icons/compressed.gif" alt="[   ]"></td><td><a href="xz-5.4.0.tar.xz">xz-5.4.0.tar.xz</a></td></tr>
<tr><td><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="xz-5.4.0.tar.xz.sig">xz-5.4.0.tar.xz.sig</a></td></tr>
<tr><td><img src="/icons/compressed.gif" alt="[   ]"></td><td><a href="xz-5.4.10.tar.bz2">xz-5.4.10.tar.bz2</a></td></tr>
<tr><td><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="xz-5.4.10.tar.bz2.sig">xz-5.4.10.tar.bz2.sig</a></td></tr>
<tr><td><img src="/icons/compressed.gif" alt="[   ]"></td><td><a href="xz-5.4.9.tar.gz">xz-5.4.9.tar.gz</a></td></tr>
<tr><td><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="xz-5.4.9.tar.gz.asc">xz-5.4.9.tar.gz.asc</a></td></tr>
<tr><td><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="xz-5.4.9.tar.gz.sig">xz-5.4.9.tar.gz.sig</a></td></tr>
<tr><td><img src="/icons/compressed.gif" alt="[   ]"></td><td><a href="xz-5.6.0beta.tar.gz">xz-5.6.0beta.tar.gz</a></td></tr>
<tr><td><img src="/icons/text.gif" alt="[TXT]"></td><td><a href="README">README</a></td></tr>
   <tr><th colspan="5"><hr></th></tr>
</table>
<address>Apache/2.4.57 (Debian) Server at tukaani.org Port 443</address>
</body></html>
"""

# nginx truncates long names in the link text ("..&gt;") but never in the href.
NGINX = b"""<html>
<head><title>Index of /pub/gnupg/gnupg/</title></head>
<body>
<h1>Index of /pub/gnupg/gnupg/</h1><hr><pre><a href="../">../</a>
<a href="gnupg-2.4.3.tar.bz2">gnupg-2.4.3.tar.bz2</a>                                04-Jul-2023 12:40    7849177
<a href="gnupg-2.4.3.tar.bz2.sig">gnupg-2.4.3.tar.bz2.sig</a>                            04-Jul-2023 12:40        238
<a href="gnupg-2.4.4-with-a-very-long-name.tar.bz2">gnupg-2.4.4-with-a-very-long-name.tar..&gt;</a> 25-Jan-2024 10:00  7861234
<a href="gnupg-w32-2.4.3_20230704.exe">gnupg-w32-2.4.3_20230704.exe</a>                     04-Jul-2023 12:41    5522432
</pre><hr></body>
</html>
"""

LIGHTTPD = b"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en">
<head><title>Index of /download/</title>
<style type="text/css">a, a:active {text-decoration: none; color: blue;}</style></head>
<body><h2>Index of /download/</h2><div class="list">
<table summary="Directory Listing" cellpadding="0" cellspacing="0">
<thead><tr><th class="n">Name</th><th class="m">Last Modified</th><th class="s">Size</th></tr></thead>
<tbody><tr class="d"><td class="n"><a href="../">Parent Directory</a>/</td></tr>
<tr><td class="n"><a href="curl-8.5.0.tar.xz">curl-8.5.0.tar.xz</a></td><td class="m">2023-Dec-06 07:32:11</td></tr>
<tr><td class="n"><a href="curl-8.5.0.tar.xz.asc">curl-8.5.0.tar.xz.asc</a></td></tr>
<tr><td class="n"><a href="curl-8.5.0.zip">curl-8.5.0.zip</a></td></tr>
<tr><td class="n"><a href="curl-8.5.0.zip.asc">curl-8.5.0.zip.asc</a></td></tr>
<tr><td class="n"><a href="curl-8.10.1.tar.gz">curl-8.10.1.tar.gz</a></td></tr>
</tbody></table></div><div class="foot">lighttpd/1.4.69</div></body></html>
"""

GITHUB = b"""<!DOCTYPE html><html lang="en" data-color-mode="auto"><head><meta charset="utf-8">
<title>Releases \xc2\xb7 tukaani-project/xz \xc2\xb7 GitHub</title></head><body>
<a href="#start-of-content" class="p-3 color-bg-accent-emphasis">Skip to content</a>
<a href="/tukaani-project/xz/releases/tag/v5.6.1" data-view-component="true" class="Link--primary Link">XZ Utils 5.6.1</a>
<ul data-view-component="true">
<li class="Box-row d-flex flex-column flex-md-row">
<a href="/tukaani-project/xz/releases/download/v5.6.1/xz-5.6.1.tar.gz" rel="nofollow" data-turbo="false" data-view-component="true" class="Truncate">
<span data-view-component="true" class="Truncate-text text-bold">xz-5.6.1.tar.gz</span></a></li>
<li><a href="/tukaani-project/xz/releases/download/v5.6.1/xz-5.6.1.tar.gz.sig" rel="nofollow">xz-5.6.1.tar.gz.sig</a></li>
<li><a href="/tukaani-project/xz/releases/download/v5.6.1/xz-5.6.1.tar.xz" rel="nofollow">xz-5.6.1.tar.xz</a></li>
<li><a href="/tukaani-project/xz/releases/download/v5.6.1/xz-5.6.1.tar.xz.sig" rel="nofollow">xz-5.6.1.tar.xz.sig</a></li>
<li><a href="/tukaani-project/xz/archive/refs/tags/v5.6.1.zip" rel="nofollow">Source code (zip)</a></li>
<li><a href="/tukaani-project/xz/archive/refs/tags/v5.6.1.tar.gz" rel="nofollow">Source code (tar.gz)</a></li>
<li><a href="/tukaani-project/xz/releases/download/v5.6.0/xz-5.6.0.tar.gz" rel="nofollow">xz-5.6.0.tar.gz</a></li>
<li><a href="/tukaani-project/xz/archive/refs/tags/v5.6.0.tar.gz" rel="nofollow">Source code (tar.gz)</a></li>
</ul></body></html>
"""

GITHUB_RELEASES = "https://github.com/tukaani-project/xz/releases"
DOWNLOAD = "https://github.com/tukaani-project/xz/releases/download"


def test_apache_autoindex():
    base = "https://tukaani.org/xz/"
    assert find_releases(APACHE, base, XZ, SIGS) == [
        # .asc before .sig: the order of the suffixes asked for, not of the page.
        Release("5.4.0", base + "xz-5.4.0.tar.xz", (base + "xz-5.4.0.tar.xz.sig",)),
        Release("5.4.9", base + "xz-5.4.9.tar.gz", (base + "xz-5.4.9.tar.gz.sig", base + "xz-5.4.9.tar.gz.asc")),
        Release("5.4.10", base + "xz-5.4.10.tar.bz2", (base + "xz-5.4.10.tar.bz2.sig",)),
        Release("5.6.0beta", base + "xz-5.6.0beta.tar.gz", ()),
    ]


def test_nginx_autoindex_reads_hrefs_not_truncated_text():
    base = "https://gnupg.org/ftp/gcrypt/gnupg/"
    releases = find_releases(NGINX, base, r"gnupg-([\d.]+)(?:-[a-z-]+)?\.tar\.bz2", SIGS)
    assert releases == [
        Release("2.4.3", base + "gnupg-2.4.3.tar.bz2", (base + "gnupg-2.4.3.tar.bz2.sig",)),
        Release("2.4.4", base + "gnupg-2.4.4-with-a-very-long-name.tar.bz2", ()),
    ]


def test_lighttpd_autoindex_and_other_formats_of_one_version():
    base = "https://curl.se/download/"
    releases = find_releases(LIGHTTPD, base, r"curl-([\d.]+)\.(?:tar\.xz|tar\.gz|zip)", [".asc"])
    assert releases == [
        Release("8.5.0", base + "curl-8.5.0.tar.xz", (base + "curl-8.5.0.tar.xz.asc",)),
        Release("8.10.1", base + "curl-8.10.1.tar.gz", ()),
    ]


def test_github_release_page():
    releases = find_releases(GITHUB, GITHUB_RELEASES, XZ, SIGS)
    assert releases == [
        Release("5.6.0", f"{DOWNLOAD}/v5.6.0/xz-5.6.0.tar.gz", ()),
        Release("5.6.1", f"{DOWNLOAD}/v5.6.1/xz-5.6.1.tar.xz", (f"{DOWNLOAD}/v5.6.1/xz-5.6.1.tar.xz.sig",)),
    ]


def test_pattern_with_a_slash_matches_the_whole_url():
    """GitHub's generated archives are all called v5.6.1.tar.gz: only the path tells them apart."""
    pattern = r"https://github\.com/tukaani-project/xz/archive/refs/tags/v([\d.]+)\.tar\.gz"
    releases = find_releases(GITHUB, GITHUB_RELEASES, pattern, SIGS)
    assert [(r.version, r.artifact_url) for r in releases] == [
        ("5.6.0", "https://github.com/tukaani-project/xz/archive/refs/tags/v5.6.0.tar.gz"),
        ("5.6.1", "https://github.com/tukaani-project/xz/archive/refs/tags/v5.6.1.tar.gz"),
    ]
    assert find_releases(GITHUB, GITHUB_RELEASES, r".*/download/v[\d.]+/xz-([\d.]+)\.tar\.gz", SIGS)[-1] == \
        Release("5.6.1", f"{DOWNLOAD}/v5.6.1/xz-5.6.1.tar.gz", (f"{DOWNLOAD}/v5.6.1/xz-5.6.1.tar.gz.sig",))


@pytest.mark.parametrize("listing", [
    "xz-5.4.1.tar.gz\nxz-5.4.1.tar.gz.sig\n\nxz-5.4.2.tar.gz\n",
    "  xz-5.4.1.tar.gz  \r\n  xz-5.4.1.tar.gz.sig\r\nxz-5.4.2.tar.gz",
    ("-rw-r--r-- 1 ftp ftp 2498296 Jan 11  2023 xz-5.4.1.tar.gz\n"
     "-rw-r--r-- 1 ftp ftp     566 Jan 11  2023 xz-5.4.1.tar.gz.sig\n"
     "-rw-r--r-- 1 ftp ftp 2498100 Mar 18  2023 xz-5.4.2.tar.gz\n"),
    ("a5c9e2a9d3e6b1f0  xz-5.4.2.tar.gz\nb7f0c3d2e1a9  xz-5.4.1.tar.gz\n"
     "c0ffee00  xz-5.4.1.tar.gz.sig\n"),
])
def test_plain_text_listing(listing):
    base = "https://tukaani.org/xz/"
    for page in (listing, listing.encode()):
        assert find_releases(page, base, XZ, SIGS) == [
            Release("5.4.1", base + "xz-5.4.1.tar.gz", (base + "xz-5.4.1.tar.gz.sig",)),
            Release("5.4.2", base + "xz-5.4.2.tar.gz", ()),
        ]


def test_compression_preference_does_not_depend_on_page_order():
    """xz, then bz2, then gz, then anything else — whatever order the page lists them in."""
    base = "https://example.org/"
    names = ["p-1.0.zip", "p-1.0.tar.gz", "p-1.0.tar.bz2", "p-1.0.tar.xz", "p-1.0.tar.zst"]
    for seed in range(6):
        random.Random(seed).shuffle(names)
        page = "".join(f'<a href="{name}">{name}</a>' for name in names)
        assert find_releases(page, base, r"p-([\d.]+)\..*", SIGS) == [Release("1.0", base + "p-1.0.tar.xz", ())]
    names.remove("p-1.0.tar.xz")
    page = "<html>" + "".join(f'<a href="{name}">' for name in names)
    assert find_releases(page, base, r"p-([\d.]+)\..*", SIGS)[0].artifact_url == base + "p-1.0.tar.bz2"


def test_a_signed_artifact_is_preferred_over_a_better_compression():
    base = "https://example.org/"
    page = '<a href="p-1.0.tar.xz"></a><a href="p-1.0.tar.gz"></a><a href="p-1.0.tar.gz.asc"></a>'
    assert find_releases(page, base, r"p-([\d.]+)\.tar\.(?:xz|gz)", SIGS) == \
        [Release("1.0", base + "p-1.0.tar.gz", (base + "p-1.0.tar.gz.asc",))]


def test_signature_files_are_never_artifacts_even_for_a_loose_pattern():
    base = "https://example.org/"
    page = '<a href="p-1.0.tar.gz"></a><a href="p-1.0.tar.gz.sig"></a><a href="p-1.0.tar.gz.sign"></a>'
    assert find_releases(page, base, r"p-(.*)", SIGS) == \
        [Release("1.0.tar.gz", base + "p-1.0.tar.gz", (base + "p-1.0.tar.gz.sig", base + "p-1.0.tar.gz.sign"))]


def test_a_signature_must_sit_beside_its_artifact():
    """The artifact's own URL plus the suffix; a same-named file elsewhere signs something else."""
    page = '<a href="/a/p-1.0.tar.gz"></a><a href="/b/p-1.0.tar.gz.sig"></a>'
    assert find_releases(page, "https://example.org/", r"p-([\d.]+)\.tar\.gz", SIGS)[0].signature_urls == ()


def test_links_are_resolved_decoded_and_deduplicated():
    base = "https://example.org/pub/p/"
    page = """<html><body>
    <a href="p-1.0.tar.gz">one</a>
    <a href="./p-1.0.tar.gz#top">same file, with a fragment</a>
    <a href="https://example.org/pub/p/p-1.0.tar.gz">same file, absolute</a>
    <A HREF='../p/p-1.1.tar.gz?mirror=1&amp;x=2'>query kept, entity decoded</A>
    <a href=p%2D1.2.tar.gz>percent-encoded</a>
    <a href="//mirror.example.net/p/p-1.3.tar.gz">scheme-relative</a>
    <a href="http://example.org/p-1.4.tar.gz">plain http</a>
    </body></html>"""
    releases = find_releases(page, base, r"p-([\d.]+)\.tar\.gz", SIGS)
    assert [(r.version, r.artifact_url) for r in releases] == [
        ("1.0", base + "p-1.0.tar.gz"),
        ("1.1", base + "p-1.1.tar.gz?mirror=1&x=2"),
        ("1.2", base + "p%2D1.2.tar.gz"),
        ("1.3", "https://mirror.example.net/p/p-1.3.tar.gz"),
        ("1.4", "http://example.org/p-1.4.tar.gz"),
    ]


def test_base_element_changes_where_relative_links_point():
    page = '<html><head><base href="https://cdn.example.net/files/"></head><a href="p-1.0.tar.gz">'
    assert find_releases(page, "https://example.org/", r"p-([\d.]+)\.tar\.gz", SIGS)[0].artifact_url == \
        "https://cdn.example.net/files/p-1.0.tar.gz"


@pytest.mark.parametrize("href", [
    "javascript:alert('p-1.0.tar.gz')", "JavaScript:void(0)//p-1.0.tar.gz", "mailto:p-1.0.tar.gz",
    "ftp://example.org/p-1.0.tar.gz", "file:///etc/p-1.0.tar.gz", "data:text/plain,p-1.0.tar.gz",
    "#p-1.0.tar.gz", "?file=p-1.0.tar.gz", "", "   ", "http://[::1/p-1.0.tar.gz",
])
def test_links_that_are_not_downloads_are_ignored(href):
    page = f'<html><a href="{href}">p-1.0.tar.gz</a><a>p-1.0.tar.gz</a><a href>x</a>'
    assert find_releases(page, "https://example.org/", r"p-([\d.]+)\.tar\.gz", SIGS) == []


def test_broken_html_still_yields_its_links():
    page = (b'<html><body><table><tr><td><a href="p-1.0.tar.gz">unclosed <b><i>'
            b'<![if !supportLists]> <a href=p-1.1.tar.gz <a href="p-1.2.tar.gz"</a>'
            b'<!-- <a href="p-9.0.tar.gz"> --> <a href="p-1.3.tar.gz\xff\xfe">'
            b'<script>document.write("<a href=p-1.4.tar.gz>")</script><a href="p-1.5.tar.gz">')
    versions = [r.version for r in find_releases(page, "https://example.org/", r"p-([\d.]+)\.tar\.gz", SIGS)]
    assert "1.0" in versions and "1.5" in versions and "9.0" not in versions


def test_hostile_pages_never_raise():
    pieces = ["<", ">", "<!", "<![", "[", "<?", "</", "a", " href=", '"', "'", "=", "--", "<a ", "\n", "&",
              "#", ";", "<!doctype", "CDATA", "<script>", "</script>", "p-1.0.tar.gz", "//", "http:", "[::1",
              "%", "%zz", "\x00", "\ud800", "\u202e"]
    rng = random.Random(1)
    for _ in range(3000):
        page = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        find_releases(page, "https://example.org/", r"p-([\d.]+)\.tar\.gz", SIGS)
        find_releases(page.encode("utf-8", "surrogatepass"), "https://example.org/", r".*/p-(.*)", SIGS)


def test_link_count_is_capped(monkeypatch):
    assert MAX_LINKS >= 10_000  # far more than any real release page
    monkeypatch.setattr(releases, "MAX_LINKS", 1000)
    page = "<html>" + '<a href="junk">' * 999 + '<a href="p-1.0.tar.gz"><a href="p-1.1.tar.gz">'
    assert [r.version for r in find_releases(page, "https://example.org/", r"p-([\d.]+)\.tar\.gz", SIGS)] == ["1.0"]
    listing = "junk\n" * 999 + "p-1.0.tar.gz\np-1.1.tar.gz\n"
    assert [r.version for r in find_releases(listing, "https://example.org/", r"p-([\d.]+)\.tar\.gz", SIGS)] == ["1.0"]


def test_empty_version_and_optional_group_are_skipped():
    page = '<a href="p-.tar.gz"></a><a href="p.tar.gz"></a><a href="p-2.tar.gz"></a>'
    assert [r.version for r in find_releases(page, "https://example.org/", r"p-?([\d.]*)\.tar\.gz", SIGS)] == ["2"]
    assert [r.version for r in find_releases(page, "https://example.org/", r"p(?:-(\d+))?\.tar\.gz", SIGS)] == ["2"]


def test_compile_pattern():
    assert compile_pattern(r"p-([\d.]+)\.tar\.gz").fullmatch("p-1.2.tar.gz").group(1) == "1.2"


@pytest.mark.parametrize(("pattern", "problem"), [
    (r"p-([\d.]+\.tar\.gz", "not a valid regular expression"),
    (r"p-[\d.]+\.tar\.gz", "no group 1"),
    (r"p-(?:[\d.]+)\.tar\.gz", "no group 1"),
    ("*", "not a valid regular expression"),
])
def test_bad_patterns_are_config_errors(pattern, problem):
    with pytest.raises(ConfigError, match=problem) as caught:
        compile_pattern(pattern)
    assert repr(pattern) in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ConfigError):
        find_releases("", "https://example.org/", pattern, SIGS)
