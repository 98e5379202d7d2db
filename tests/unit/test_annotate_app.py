"""The annotation web app over HTTP (no browser): routes, blinding, escaping, headers, concurrent posts."""

from __future__ import annotations

import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from quals.annotate.app import _redact, annotator_links, make_server
from quals.annotate.assignment import AssignmentConfig
from quals.annotate.storage import StudyStore
from quals.annotate.study import ATTRIBUTES, Study, StudyItem

SCRIPT = '<script>alert("x")</script>'
ANSWER = {"consistency": "left", "informativeness": "equal", "grammaticality": "right", "comment": "ok"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _request(url: str, form: dict | None = None, body: bytes | None = None):
    data = body if body is not None else (urllib.parse.urlencode(form).encode() if form is not None else None)
    try:
        with _opener.open(urllib.request.Request(url, data=data), timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


@pytest.fixture
def served(tmp_path):
    items = tuple(StudyItem(f"item-{k}", f"Document {k} {SCRIPT} & more.", f"Alpha {k} {SCRIPT}", f"Beta {k}")
                  for k in range(6))
    store = StudyStore.create(tmp_path / "s.sqlite", Study.from_items(items, "secret-sys-a", "secret-sys-b"),
                              AssignmentConfig(annotators=3, per_item=2, seed=0))
    server = make_server(store, port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server, store, dict((a.name, link) for a, link in annotator_links(store, server.base_url))
    server.shutdown()
    server.server_close()
    thread.join()


def test_binds_localhost_by_default(served):
    server, _, links = served
    assert server.server_address[0] == "127.0.0.1"
    assert all(link.startswith(server.base_url + "/a/") for link in links.values())


def test_item_page_is_blinded_escaped_and_locked_down(served):
    _, _, links = served
    status, headers, page = _request(links["annotator-1"])
    assert status == 200 and "Item 1 of 4" in page and "0 of 4 done" in page
    assert "secret-sys" not in page and "item-" not in page
    assert SCRIPT not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert page.count("<script") == 1  # only the page's own same-origin script
    assert "script-src 'self'" in headers["Content-Security-Policy"] and "unsafe-inline" not in page
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"


def test_saving_redirects_to_the_next_item_and_resumes(served):
    _, store, links = served
    link = links["annotator-2"]
    status, headers, _ = _request(link + "/2", ANSWER)
    assert status == 303 and headers["Location"] == urllib.parse.urlsplit(link).path
    assert "Item 1 of 4" in _request(link)[2]  # item 1 is still open
    _request(link + "/1", ANSWER)
    page = _request(link)[2]
    assert "Item 3 of 4" in page and "2 of 4 done" in page
    saved = _request(link + "/2")[2]
    assert 'value="left" required checked' in saved and ">ok</textarea>" in saved
    for number in (3, 4):
        _request(link + f"/{number}", ANSWER)
    done = _request(link)[2]
    assert "All done" in done and done.count(f'href="{urllib.parse.urlsplit(link).path}/') == 4
    assert len(store.judgments()) == 4


@pytest.mark.parametrize("path,status", [("/a/not-a-token", 404), ("/a/../etc/passwd", 404), ("/nothing", 404),
                                         ("/", 200)])
def test_unknown_paths_and_tokens(served, path, status):
    server, _, _ = served
    code, _, page = _request(server.base_url + path)
    assert code == status
    assert "/a/" not in page  # never lists anyone's link


def test_item_numbers_outside_the_queue_are_not_found(served):
    _, _, links = served
    assert _request(links["annotator-1"] + "/0")[0] == 404
    assert _request(links["annotator-1"] + "/5")[0] == 404
    assert _request(links["annotator-1"] + "/5", ANSWER)[0] == 404


@pytest.mark.parametrize("form,message", [
    ({"consistency": "left"}, "no choice for informativeness, grammaticality"),
    ({**ANSWER, "grammaticality": "<b>"}, "choice must be one of"),
])
def test_bad_answers_get_400_and_are_not_saved(served, form, message):
    _, store, links = served
    status, _, page = _request(links["annotator-1"] + "/1", form)
    assert status == 400 and "Answer not saved" in page
    assert "<b>" not in page
    assert store.judgments() == []


def test_oversized_and_non_utf8_bodies_are_refused(served):
    _, store, links = served
    assert _request(links["annotator-1"] + "/1", body=b"x" * (65 * 1024))[0] == 413
    assert _request(links["annotator-1"] + "/1", body=b"consistency=\xff")[0] == 400
    assert store.judgments() == []


def test_static_assets(served):
    server, _, _ = served
    status, headers, css = _request(server.base_url + "/static/annotate.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css") and "fieldset" in css
    status, headers, js = _request(server.base_url + "/static/annotate.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript") and "keydown" in js


def test_concurrent_posts_over_http_keep_every_vote_once(served):
    _, store, links = served
    jobs = [(link, number) for link in links.values() for number in range(1, 5)] * 2  # everything twice
    statuses: list[int] = []

    def post(share):
        for link, number in share:
            statuses.append(_request(f"{link}/{number}", ANSWER)[0])

    threads = [threading.Thread(target=post, args=(jobs[k::6],)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * len(jobs)
    judgments = store.judgments()
    assert len(judgments) == 12 and len({(j.item_id, j.annotator) for j in judgments}) == 12
    assert sum(j.revisions for j in judgments) == 12
    assert all(set(j.choices) == set(ATTRIBUTES) for j in judgments)


def test_logs_never_hold_tokens():
    assert _redact('"GET /a/AbC-d_9/3 HTTP/1.1" 200 -') == '"GET /a/<token>/3 HTTP/1.1" 200 -'


def test_a_body_shorter_than_its_content_length_times_out_instead_of_hanging(served, monkeypatch):
    import socket
    import time
    from urllib.parse import urlsplit

    from quals.annotate import app

    monkeypatch.setattr(app._Handler, "timeout", 0.5)
    _, store, links = served
    url = urlsplit(links["annotator-1"] + "/1")
    start = time.monotonic()
    with socket.create_connection((url.hostname, url.port), timeout=10) as client:
        client.sendall(f"POST {url.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                       f"Content-Length: 100\r\n\r\nconsistency=a".encode())
        reply = client.recv(4096).decode()
    assert reply.startswith("HTTP/1.0 408") or reply.startswith("HTTP/1.1 408")
    assert time.monotonic() - start < 5
    assert store.judgments() == []
