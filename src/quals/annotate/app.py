"""The local annotation web app: Python's threaded HTTP server over a :class:`StudyStore`.

Routes (``TOKEN`` is an annotator's secret; it is their login):

- ``GET /a/TOKEN``: the annotator's first item without a judgment, or the "all done" page;
- ``GET /a/TOKEN/N``: item N (from 1) of their queue, with their saved answer if any;
- ``POST /a/TOKEN/N``: save the answer (one transaction), then redirect (303) to ``/a/TOKEN``;
- ``GET /static/annotate.css|js``; ``GET /`` says to use a personal link.

No framework: the standard library's ``ThreadingHTTPServer`` answers each request in a thread
and the store serialises writes. Pages forbid inline scripts and other origins
(Content-Security-Policy), are never cached, and never send the token on as a referrer.

Example:
    >>> server = make_server(store, port=0)  # doctest: +SKIP
    >>> server.serve_forever()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from quals.annotate.assets import CSS, JS
from quals.annotate.pages import item_url, render_done, render_message, render_task
from quals.annotate.storage import Annotator, StudyStore
from quals.annotate.study import ATTRIBUTES

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_BODY_BYTES = 64 * 1024
_STATIC = {"/static/annotate.css": ("text/css; charset=utf-8", CSS.encode()),
           "/static/annotate.js": ("text/javascript; charset=utf-8", JS.encode())}
_ITEM = re.compile(r"/a/([A-Za-z0-9_-]{1,64})(?:/([0-9]{1,7}))?/?")
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class AnnotationServer(ThreadingHTTPServer):
    """An HTTP server bound to ``address`` that serves the study in ``store``."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: StudyStore) -> None:
        super().__init__(address, _Handler)
        self.store = store

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}"


def make_server(store: StudyStore, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> AnnotationServer:
    """Bind (but do not start) the app; ``port`` 0 picks a free port (see ``server.base_url``)."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("serving on %s: anyone who can reach this address and holds a link can annotate, and "
                       "links travel unencrypted (plain HTTP)", host)
    return AnnotationServer((host, port), store)


def annotator_links(store: StudyStore, base_url: str) -> list[tuple[Annotator, str]]:
    """Each annotator with their personal link."""
    return [(annotator, base_url + item_url(annotator.token)) for annotator in store.annotators()]


class _Handler(BaseHTTPRequestHandler):
    server: AnnotationServer
    server_version = "quals-annotate"
    sys_version = ""
    # A client that sends fewer bytes than its Content-Length would otherwise hold a thread forever.
    timeout = 30

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        self._guarded(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._guarded(self._post)

    def _guarded(self, handler) -> None:
        try:
            handler(urlsplit(self.path).path)
        except Exception:  # a bug must not take the server down; the annotator gets a 500
            logger.exception("error answering %s %s", self.command, _redact(self.path))
            self._html(HTTPStatus.INTERNAL_SERVER_ERROR,
                       render_message("Server error", "Something went wrong; your earlier answers are saved. "
                                                      "Reload the page or tell the study organiser."))

    def _get(self, path: str) -> None:
        if path == "/":
            self._html(HTTPStatus.OK, render_message("Pairwise judgment", "Open the personal link you were given."))
            return
        if path in _STATIC:
            content_type, data = _STATIC[path]
            self._send(HTTPStatus.OK, content_type, data)
            return
        found = self._resolve(path)
        if found is None:
            return
        annotator, position = found
        store = self.server.store
        if position is None:
            position = store.next_position(annotator.index)
            if position is None:
                self._html(HTTPStatus.OK, render_done(annotator))
                return
        task = store.task(annotator.index, position)
        if task is None:
            self._not_found(f"There is no item {position + 1}: your list has {annotator.assigned} items.")
            return
        self._html(HTTPStatus.OK, render_task(task, annotator))

    def _post(self, path: str) -> None:
        found = self._resolve(path)
        if found is None:
            return
        annotator, position = found
        if position is None:
            self._not_found("Answers are posted to an item's address.")
            return
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self._html(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, render_message("Too large", "The answer is too long."))
            return
        length = int(length)
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self._html(HTTPStatus.REQUEST_TIMEOUT, render_message("Timed out", "The answer did not arrive whole; "
                                                                  "send it again."))
            return
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=16,
                            strict_parsing=False)
            sides = {a: form[a][0] for a in ATTRIBUTES if a in form}
            self.server.store.save(annotator.index, position, sides, form.get("comment", [""])[0].strip())
        except (UnicodeDecodeError, ValueError) as err:
            self._html(HTTPStatus.BAD_REQUEST, render_message("Answer not saved", f"{err}. Go back and try again."))
            return
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", item_url(annotator.token))
        self.send_header("Content-Length", "0")
        self._common_headers()
        self.end_headers()

    def _resolve(self, path: str) -> tuple[Annotator, int | None] | None:
        """(annotator, position or None) of an item path; answers 404 itself and returns None otherwise."""
        match = _ITEM.fullmatch(path)
        annotator = self.server.store.find_annotator(match.group(1)) if match else None
        if annotator is None:
            self._not_found("This link is not valid. Check that you copied all of it.")
            return None
        if match.group(2) is None:
            return annotator, None
        number = int(match.group(2))
        if not 1 <= number <= annotator.assigned:
            self._not_found(f"There is no item {number}: your list has {annotator.assigned} items.")
            return None
        return annotator, number - 1

    def _not_found(self, message: str) -> None:
        self._html(HTTPStatus.NOT_FOUND, render_message("Not found", message))

    def _html(self, status: HTTPStatus, page: str) -> None:
        self._send(status, "text/html; charset=utf-8", page.encode("utf-8"))

    def _send(self, status: HTTPStatus, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self._common_headers()
        self.end_headers()
        self.wfile.write(data)

    def _common_headers(self) -> None:
        for name, value in _HEADERS.items():
            self.send_header(name, value)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the http.server API)
        logger.info("%s %s", self.address_string(), _redact(format % args))


def _redact(text: str) -> str:
    """Request lines with the token replaced: logs never hold annotators' secrets."""
    return re.sub(r"/a/[A-Za-z0-9_-]+", "/a/<token>", text)
