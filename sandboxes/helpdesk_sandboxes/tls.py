"""A throw-away self-signed certificate, so clients that insist on https (the official SDK) can connect."""
from __future__ import annotations

import datetime
import ipaddress
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed_files(host: str) -> tuple[str, str]:
    """(certificate, key) PEM files of a new self-signed certificate for `host` and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "livechat-sandbox")])
    now = datetime.datetime.now(datetime.UTC)
    alt = [x509.DNSName("localhost")]
    try:
        alt.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        alt.append(x509.DNSName(host))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .sign(key, hashes.SHA256()))
    folder = Path(tempfile.mkdtemp(prefix="livechat-sandbox-tls-"))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                        serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    return str(folder / "cert.pem"), str(folder / "key.pem")


def listen(app, host: str, port: int, tls: bool):
    """A keep-alive HTTP/1.1 server for a sandbox app on host:port (0: any free port), as the real
    servers keep connections open; self-signed https when `tls`. Returns (server, base URL)."""
    from unified_ticketing.http_server import keepalive_server

    server = keepalive_server(host, port, app, tls_files=self_signed_files(host) if tls else None)
    shown = f"[{host}]" if ":" in host else host
    return server, f"{'https' if tls else 'http'}://{shown}:{server.server_port}"
