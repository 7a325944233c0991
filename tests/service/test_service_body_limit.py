"""One body limit (64 KiB), one JSON answer (413 body_too_large), however the body arrives.

Real HTTP against the real service: a Content-Length body just over the limit, one far over
waitress's own backstop (1 MiB), and the same two sizes sent with chunked transfer encoding.
"""

from __future__ import annotations

import http.client
import socket

import orjson
import pytest

from headgaze.service.web.http_server import MAX_BODY_BYTES, waitress_body_limit

MESSAGE = f"The request body is larger than {MAX_BODY_BYTES} bytes."


def body_of(n: int) -> bytes:
    """A valid JSON object of exactly n bytes."""
    head, tail = b'{"text": "', b'"}'
    return head + b"a" * (n - len(head) - len(tail)) + tail


def assert_json_413(status: int, ctype: str, raw: bytes) -> None:
    assert status == 413, raw[:300]
    assert ctype == "application/json", raw[:300]
    assert orjson.loads(raw) == {"error": {"code": "body_too_large", "message": MESSAGE}}


def raw_request(server, head: bytes, body_parts: list[bytes]) -> tuple[int, str, bytes]:
    """Send `head` and the body parts over one socket, then read the whole answer (the server closes)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        for part in body_parts:
            sock.sendall(part)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    headers, _, payload = rest.partition(b"\r\n\r\n")
    fields = dict(line.decode().split(": ", 1) for line in headers.split(b"\r\n"))
    return int(status_line.split()[1]), fields.get("Content-Type", ""), payload


def test_body_at_the_limit_is_read(server):
    resp = server.post(raw=body_of(MAX_BODY_BYTES))
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "text_too_long"  # read, then judged


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 4 * MAX_BODY_BYTES])
def test_content_length_body_over_the_limit(server, size):
    resp = server.post(raw=body_of(size))
    assert_json_413(resp.status_code, resp.headers["Content-Type"], resp.content)


def test_content_length_over_the_backstop_is_json_too(server):
    head = (f"POST /v1/attention HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {5 * waitress_body_limit()}\r\n\r\n").encode()
    assert_json_413(*raw_request(server, head, []))  # refused from the headers alone


def test_chunked_body_over_the_limit(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    body = body_of(2 * MAX_BODY_BYTES)
    parts = (body[i:i + 8192] for i in range(0, len(body), 8192))
    conn.request("POST", "/v1/attention", body=parts, headers={"Content-Type": "application/json"},
                 encode_chunked=True)
    resp = conn.getresponse()
    assert_json_413(resp.status, resp.getheader("Content-Type"), resp.read())
    conn.close()


def test_chunked_body_over_the_backstop_is_json_too(server):
    head = (b"POST /v1/attention HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    # waitress counts raw body bytes (chunk framing included) and stops reading at its limit: send
    # exactly that many, so nothing is left unread (unread bytes would make the close a reset)
    limit = waitress_body_limit()
    size_line = b"%x\r\n" % (2 * limit)
    assert_json_413(*raw_request(server, head, [size_line + b"a" * (limit - len(size_line))]))


def test_the_service_still_answers_after_oversize_bodies(server):
    assert server.post({"text": "still fine", "model": "minilm-l6"}).status_code == 200
