"""Shared fixtures: real mock server processes and a real engine, on loopback only."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "libraries"))

from WebSocketLoadLibrary.engine import ConnectionOptions, LoadEngine  # noqa: E402
from WebSocketLoadLibrary.mockserver import MockServerProcess  # noqa: E402

import property_examples  # noqa: E402  (tests/support: pytest.ini puts it on the path)

property_examples.register()   # before pytest loads one (--hypothesis-profile=quick)


@pytest.fixture
def start_server():
    """Start mock servers with any options; every one is stopped after the test."""
    started: list[MockServerProcess] = []

    def start(**options) -> MockServerProcess:
        server = MockServerProcess(**options)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server) -> MockServerProcess:
    """A healthy echo server without compression, fixed seed."""
    return start_server(compression=False, seed=1)


@pytest.fixture
def engine():
    engine = LoadEngine()
    yield engine
    engine.close()


@pytest.fixture
def connect(engine):
    def connect(uri: str, count: int = 1, verify: bool = True, **options):
        return engine.connect(ConnectionOptions(uri, **options), count=count, verify=verify)
    return connect


def pytest_sessionfinish(session, exitstatus):
    """Clean teardown is part of the contract: no mock server may outlive the tests. Under
    pytest-xdist (`-n 2`) each worker looks at its own children and tells the controller,
    which fails the run."""
    me = psutil.Process(os.getpid())
    leftovers = [p for p in me.children(recursive=True) if _is_ours(_cmdline(p))]
    for process in leftovers:
        process.kill()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:          # an xdist worker: the controller reports
        workeroutput["leaked_processes"] = len(leftovers)
        return
    leaked = len(leftovers) + sum(_leaked_on_workers)
    if leaked:
        print(f"\nLEAK: {leaked} mock server or agent process(es) outlived the tests",
              file=sys.stderr)
        session.exitstatus = 1


_leaked_on_workers: list[int] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist's controller: a worker finished; keep the count of what it leaked."""
    _leaked_on_workers.append(getattr(node, "workeroutput", {}).get("leaked_processes", 0))


def _is_ours(command: list[str]) -> bool:
    """A mock server or a load agent process."""
    return ("WebSocketLoadLibrary.mockserver" in " ".join(command)
            or ("WebSocketLoadLibrary" in command and "agent" in command))


def _cmdline(process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory) -> tuple[str, str]:
    """(certificate, key) PEM files of a self-signed certificate for 127.0.0.1/localhost."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        _self_signed_with_cryptography(cert, key)
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("cannot make a test certificate: neither the 'cryptography' package "
                        "nor the openssl command is available")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
             "-out", str(cert), "-subj", "/CN=localhost", "-days", "1",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def _self_signed_with_cryptography(cert: Path, key: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(private.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
