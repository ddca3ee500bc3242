"""The client's HTTP (gateway.client.http) against real loopback servers: kept-alive
connections, a server's idle close, unread answers closing their connection, streaming,
timeouts, refused connections and proxies from the environment."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path

import pytest

from gateway.client.http import HttpClient, TransportFailed, TransportTimedOut
from tests.gateway_server import free_port

Handler = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handle: Handler) -> None:
        self.handle_request_with = handle
        self.connections = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.closed = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request, client_address):  # type: ignore[no-untyped-def]
        self.connections += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[no-untyped-def]
        super().shutdown_request(request)
        self.closed.set()  # the socket is closed now, not merely done with


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        self.server.requests.append((self.command, self.path, dict(self.headers)))
        self.server.handle_request_with(self)

    do_GET = do_POST = do_CONNECT = _any


@contextmanager
def serving(handle: Handler) -> Iterator[_Server]:
    server = _Server(handle)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _url(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def answer(handler: BaseHTTPRequestHandler, body: bytes, status: int = 200) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def echo(handler: BaseHTTPRequestHandler) -> None:
    sent = {"path": handler.path, "body": getattr(handler, "body", b"").decode()}
    answer(handler, json.dumps(sent).encode())


def test_requests_share_one_kept_alive_connection() -> None:
    with serving(echo) as server:
        client = HttpClient(_url(server), {"Authorization": "Bearer t"})
        for i in range(5):
            with client.stream("POST", "/v1/query", json={"n": i}) as response:
                assert response.status_code == 200
                assert json.loads(response.json()["body"]) == {"n": i}
        client.close()
        assert server.connections == 1
        method, path, headers = server.requests[0]
        assert (method, path, headers["Authorization"]) == ("POST", "/v1/query", "Bearer t")
        assert headers["Content-Type"] == "application/json"


def test_an_answer_streamed_to_its_end_keeps_the_connection() -> None:
    def sized(handler: BaseHTTPRequestHandler) -> None:
        answer(handler, b"y" * 200_000)

    with serving(sized) as server, _client(server) as client:
        for _ in range(3):
            with client.stream("POST", "/v1/query") as response:
                assert sum(len(chunk) for chunk in response.iter_bytes()) == 200_000
        assert server.connections == 1


def test_query_parameters_are_written_as_the_server_reads_them() -> None:
    with serving(echo) as server, _client(server) as client:
        params = {"pending": True, "kind": ["a", "b"], "skip": None, "limit": 5}
        with client.stream("GET", "/v1/exports", params=params) as response:
            assert response.json()["path"] == "/v1/exports?pending=true&kind=a&kind=b&limit=5"


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    def close_after(handler: BaseHTTPRequestHandler) -> None:
        echo(handler)
        handler.close_connection = True  # as a keep-alive timeout would, after answering

    with serving(close_after) as server, _client(server) as client:
        for _ in range(3):
            with client.stream("GET", "/x") as response:
                assert response.status_code == 200
                response.read()
            server.closed.wait(5)
            server.closed.clear()
        assert server.connections == 3


def test_an_answer_left_unread_closes_its_connection() -> None:
    def large(handler: BaseHTTPRequestHandler) -> None:
        answer(handler, b"x" * 1_000_000)

    with serving(large) as server, _client(server) as client:
        _interrupt_mid_answer(client)
        assert server.closed.wait(5), "the server never saw the connection end"
        with client.stream("GET", "/big") as response:  # a fresh connection serves the next
            assert len(response.read()) == 1_000_000
        assert server.connections == 2


def _interrupt_mid_answer(client: HttpClient) -> None:
    """Read the first chunk of ``GET /big``, then stop as the notebook's stop button does."""

    def interrupted() -> None:
        with client.stream("GET", "/big") as response:
            next(response.iter_bytes())
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()


def test_an_unread_answer_on_a_closing_connection_still_closes_it() -> None:
    def closing(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.send_header("Content-Length", "1000000")
        handler.end_headers()
        handler.wfile.write(b"z" * 1_000_000)

    with serving(closing) as server, _client(server) as client:
        _interrupt_mid_answer(client)
        assert server.closed.wait(5), "the server never saw the connection end"


def test_a_chunked_answer_streams_as_it_arrives() -> None:
    release = threading.Event()

    def progress(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/x-ndjson")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for line in (b'{"stage": "query"}\n', b'{"stage": "done"}\r\n{"export"', b": 1}"):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            handler.wfile.flush()
            release.wait(5)
        handler.wfile.write(b"0\r\n\r\n")

    with serving(progress) as server, _client(server) as client:
        with client.stream("POST", "/v1/exports") as response:
            lines = response.iter_lines()
            assert next(lines) == '{"stage": "query"}'  # before the server sent the rest
            release.set()
            assert list(lines) == ['{"stage": "done"}', '{"export": 1}']
        with client.stream("POST", "/v1/exports") as response:
            assert response.read().count(b"stage") == 2
        assert server.connections == 1  # a chunked answer read to its end keeps it


def test_a_silent_server_times_out_and_a_closed_port_fails() -> None:
    def silent(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(2)

    with serving(silent) as server:
        client = HttpClient(_url(server), {}, timeout=0.3)
        began = time.monotonic()
        with pytest.raises(TransportTimedOut), client.stream("GET", "/slow"):
            pass
        assert time.monotonic() - began < 1.5
    nowhere = HttpClient(f"http://127.0.0.1:{free_port()}", {}, connect_timeout=2)
    with pytest.raises(TransportFailed) as failed, nowhere.stream("GET", "/"):
        pass
    assert not isinstance(failed.value, TransportTimedOut)


def test_an_answer_cut_short_is_a_failure_not_a_short_body() -> None:
    def cut(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.write(b"x" * 10)
        handler.close_connection = True

    with serving(cut) as server, _client(server) as client:
        with pytest.raises(TransportFailed), client.stream("GET", "/") as response:
            response.read()
        with pytest.raises(TransportFailed), client.stream("GET", "/") as response:
            b"".join(response.iter_bytes())  # streamed: the same failure, not a short body


def test_plain_http_goes_through_the_environments_proxy(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with serving(echo) as proxy:
        monkeypatch.setenv(
            "HTTP_PROXY", f"http://ana%40lyst:s%3Acret@127.0.0.1:{proxy.server_address[1]}"
        )
        monkeypatch.setenv("NO_PROXY", "bypass.example")
        client = HttpClient("http://gateway.example:8000", {})
        with client.stream("GET", "/v1/me", params={"a": 1}) as response:
            assert response.json()["path"] == "http://gateway.example:8000/v1/me?a=1"
        _, _, headers = proxy.requests[0]
        assert headers["Host"] == "gateway.example:8000"
        credentials = base64.b64decode(headers["Proxy-Authorization"].removeprefix("Basic "))
        assert credentials == b"ana@lyst:s:cret"
        client.close()
        assert HttpClient("http://bypass.example", {}).proxy is None


def test_https_asks_the_proxy_for_a_tunnel(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def refuse(handler: BaseHTTPRequestHandler) -> None:
        answer(handler, b"{}", status=407)

    with serving(refuse) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://u:p@127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = HttpClient("https://gateway.example", {"Authorization": "Bearer secret"})
        with pytest.raises(TransportFailed, match="407"), client.stream("GET", "/v1/me"):
            pass
        method, path, headers = proxy.requests[0]
        assert (method, path) == ("CONNECT", "gateway.example:443")
        assert headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
        assert "Authorization" not in headers  # the token only ever travels inside the tunnel


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="not an http"):
        HttpClient("ftp://gateway.example", {})


@contextmanager
def _client(server: _Server) -> Iterator[HttpClient]:
    client = HttpClient(_url(server), {})
    try:
        yield client
    finally:
        client.close()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_is_verified_against_the_trusted_certificates(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cert, key = _self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with serving(echo) as server:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        url = f"https://127.0.0.1:{server.server_address[1]}"
        for name in ("HTTPS_PROXY", "https_proxy", "SSL_CERT_DIR"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
        untrusted = HttpClient(url, {})
        with (
            pytest.raises(TransportFailed, match="CERTIFICATE_VERIFY_FAILED"),
            untrusted.stream("GET", "/v1/me"),
        ):
            pass
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the deployment's own CA, trusted
        client = HttpClient(url, {"Authorization": "Bearer t"})
        with client.stream("GET", "/v1/me") as response:
            assert response.json()["path"] == "/v1/me"
        client.close()
