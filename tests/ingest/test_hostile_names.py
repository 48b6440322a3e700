"""Hostile names and files in an input folder: undecodable bytes, FIFOs, symlinked folders, `::`."""

from __future__ import annotations

import os
import socket
import threading

import pyarrow as pa
import pytest

from raxdoc.errors import SourceNotFound, SourceUnreadable
from raxdoc.ingest import iter_sources, read_document
from raxdoc.ingest.localfs import display, local_path
from raxdoc.ingest.sources import read_source_bytes

BAD = b"bad\xffname.pdf"  # not valid UTF-8: Python holds it as "bad\udcffname.pdf"


def _within(seconds: float, fn):
    """fn()'s result, or a test failure after `seconds` (a hang fails instead of hanging the suite)."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still running after {seconds} s: it hangs")
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.fixture
def pdf(build):
    return build.text_pdf(["x"], width=50, height=50)


def test_undecodable_name_is_valid_utf8_and_reads_back(tmp_path, pdf):
    with open(os.fsencode(tmp_path) + b"/" + BAD, "wb") as f:
        f.write(pdf)
    [ref] = iter_sources(tmp_path)
    assert ref.error is None
    assert ref.url == f"file://{tmp_path}/bad%FFname.pdf"
    ref.url.encode("utf-8")  # strict: no lone surrogate left
    pa.array([ref.url])  # what failed the whole batch before
    assert read_source_bytes(ref) == pdf
    assert read_document(ref).source == ref.url
    # The form is a fixed point: given back as an input (a rerun, a user pasting it), the same ref.
    assert list(iter_sources(ref.url)) == [ref]


def test_display_round_trips_any_bytes_and_keeps_valid_paths_plain():
    raw = b"/in/\xff\xfe a%20b:c::d?#.pdf"
    path = os.fsdecode(raw)
    assert os.fsencode(local_path(display(path))) == raw
    assert display("/in/a::b 100%.pdf") == "/in/a::b 100%.pdf"
    assert local_path("/in/a%20b.pdf") == "/in/a%20b.pdf"  # a plain path is never unquoted
    assert local_path("file:///in/a%20b.pdf") == "/in/a b.pdf"  # a file:// URL is (RFC 8089)


@pytest.mark.parametrize("text, local", [
    ("a::b.pdf", True), ("/x/zip::y.pdf", True), ("rel/a::s3://x", True), ("s3://bucket/a.pdf", False),
    ("simplecache::s3://bucket/a.pdf", False), ("memory://x/a.pdf", False), ("file:///x/a::b.pdf", True),
])
def test_only_texts_with_a_scheme_are_urls(text, local):
    assert (local_path(text) is not None) is local


def test_double_colon_is_part_of_a_local_file_name(tmp_path, pdf, monkeypatch):
    (tmp_path / "a::b.pdf").write_bytes(pdf)
    expected = str(tmp_path / "a::b.pdf")
    for given in (expected, f"file://{expected}", str(tmp_path / "a::*.pdf"), tmp_path):
        assert [(r.url, r.error) for r in iter_sources(given)] == [(expected, None)], given
    monkeypatch.chdir(tmp_path)
    [ref] = iter_sources("a::b.pdf")  # relative: still a name, not protocol "a" chained to "b.pdf"
    assert ref.url == expected and read_source_bytes(ref) == pdf


def test_fifo_is_an_error_ref_never_opened_for_reading(tmp_path, pdf):
    os.mkfifo(tmp_path / "pipe.pdf")
    (tmp_path / "ok.pdf").write_bytes(pdf)
    refs = _within(10, lambda: list(iter_sources(tmp_path)))
    assert [r.url.rsplit("/", 1)[-1] for r in refs] == ["ok.pdf", "pipe.pdf"]
    with pytest.raises(SourceUnreadable, match="not a regular file: a named pipe") as info:
        _within(10, lambda: read_source_bytes(refs[1]))
    assert info.value.error_type == "source_unreadable"
    with pytest.raises(SourceUnreadable, match="FIFO"):  # named directly, too
        _within(10, lambda: read_document(tmp_path / "pipe.pdf"))


def test_socket_and_device_are_unreadable_not_read(tmp_path):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "s.pdf"))
        with pytest.raises(SourceUnreadable):
            _within(10, lambda: read_document(tmp_path / "s.pdf"))
    with pytest.raises(SourceUnreadable, match="character device"):
        _within(10, lambda: read_document("/dev/zero"))  # would otherwise read forever


def test_symlinked_subfolder_is_followed_and_a_cycle_ends(tmp_path, pdf):
    root, elsewhere = tmp_path / "in", tmp_path / "elsewhere"
    (elsewhere / "deep").mkdir(parents=True)
    root.mkdir()
    (root / "top.pdf").write_bytes(pdf)
    (elsewhere / "deep" / "linked.pdf").write_bytes(pdf)
    (root / "sub").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "deep" / "up").symlink_to(root, target_is_directory=True)  # a cycle through the link
    (root / "self").symlink_to(root / "self")  # a link to itself: ELOOP when read
    refs = _within(10, lambda: list(iter_sources(root)))
    rel = [r.url[len(str(root)) + 1:] for r in refs]
    assert rel == ["self", "sub/deep/linked.pdf", "top.pdf"]
    assert all(r.error is None for r in refs)
    assert read_source_bytes(refs[1]) == pdf
    with pytest.raises(SourceUnreadable):
        read_source_bytes(refs[0])


def test_dangling_link_and_unlistable_folder_are_error_rows(tmp_path, pdf):
    (tmp_path / "gone.pdf").symlink_to(tmp_path / "nowhere.pdf")
    refs = list(iter_sources(tmp_path))
    with pytest.raises(SourceNotFound):
        read_source_bytes(refs[0])
    if os.geteuid() == 0:
        return  # root lists any folder: nothing more to check here
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    try:
        refs = list(iter_sources(tmp_path))
        [bad] = [r for r in refs if r.url.endswith("locked")]
        assert isinstance(bad.error, SourceUnreadable)
    finally:
        locked.chmod(0o700)
