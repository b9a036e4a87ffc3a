"""A private certificate authority for the MQTT broker's TLS: a CA, the server certificate it
signs for the broker's names, and client certificates for devices and services.

For sites without a CA of their own (`citydata broker cert`); an operator with one gives the
broker its certificate instead. Keys are ECDSA P-256 by default (every current TLS stack and
the usual device libraries take it; RSA 3072 for older ones) and are written mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
CA_DAYS = 3650  # the CA: ten years, so devices need a new trust anchor rarely
SERVER_DAYS = 825  # the longest lifetime Apple's TLS stacks accept for a server certificate
CLIENT_DAYS = 825
CA_CERT, CA_KEY = "ca.crt", "ca.key"
SERVER_CERT, SERVER_KEY = "server.crt", "server.key"
_BACKDATE = dt.timedelta(minutes=5)  # a device whose clock is a little behind still accepts it


class CertError(Exception):
    """The certificates cannot be made as asked (existing files, a bad name, no CA)."""


@dataclass(frozen=True)
class Issued:
    """A private key and the certificate for it."""

    key: PrivateKey
    cert: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def new_key(key_type: KeyType = "ec") -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "citydata"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _validity(now: dt.datetime, days: int) -> tuple[dt.datetime, dt.datetime]:
    return now - _BACKDATE, now + dt.timedelta(days=days)


def make_ca(
    common_name: str = "citydata MQTT CA",
    *,
    days: int = CA_DAYS,
    now: dt.datetime | None = None,
    key_type: KeyType = "ec",
) -> Issued:
    """A self-signed CA that may sign end-entity certificates only (path length 0)."""
    key = new_key(key_type)
    start, end = _validity(now or dt.datetime.now(dt.UTC), days)
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def _key_usage(*, ca: bool = False, rsa_key: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=rsa_key,  # RSA key exchange; ECDSA keys only sign
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def issue(
    ca: Issued,
    common_name: str,
    *,
    server: bool,
    dns_names: Sequence[str] = (),
    ips: Sequence[str] = (),
    days: int = SERVER_DAYS,
    now: dt.datetime | None = None,
    key_type: KeyType = "ec",
) -> Issued:
    """A certificate signed by `ca`: for a TLS server (its DNS names and IP addresses in the
    subject alternative names, where clients check them) or a TLS client (`common_name` is its
    identity). Valid for `days` from `now` (a past `now` makes an expired one)."""
    key = new_key(key_type)
    start, end = _validity(now or dt.datetime.now(dt.UTC), days)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(rsa_key=key_type == "rsa"), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    alt_names = alternative_names(dns_names, ips)
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    elif server:
        raise CertError("a server certificate needs at least one --name or --ip")
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


def alternative_names(dns_names: Sequence[str], ips: Sequence[str]) -> list[x509.GeneralName]:
    """DNS names and IP addresses as subject alternative names; a malformed one is a CertError."""
    names: list[x509.GeneralName] = []
    for name in dict.fromkeys(dns_names):
        if not name or any(c.isspace() or c in "/:@" for c in name):
            raise CertError(f"--name {name!r} is not a host name")
        try:
            ipaddress.ip_address(name)
        except ValueError:
            names.append(x509.DNSName(name))
        else:
            raise CertError(f"--name {name!r} is an IP address: give it with --ip")
    for ip in dict.fromkeys(ips):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            raise CertError(f"--ip {ip!r} is not an IP address") from None
    return names


def create(
    directory: Path,
    *,
    names: Sequence[str],
    ips: Sequence[str],
    clients: Sequence[str] = (),
    server: bool = True,
    force: bool = False,
    key_type: KeyType = "ec",
    now: dt.datetime | None = None,
) -> list[Path]:
    """Make in `directory` the CA if it is not there yet (an existing ca.crt and ca.key are
    used, never replaced), the server certificate for `names` and `ips` (unless not `server`)
    and one `<client>.crt`/`.key` per client. Returns the files written. Anything refused
    (an existing file without `force`, a bad name) is refused before a file is written."""
    stems = ([SERVER_CERT.removesuffix(".crt")] if server else []) + [
        _client_stem(c) for c in dict.fromkeys(clients)
    ]
    if not stems:
        raise CertError("nothing to make: no server certificate and no --client")
    if server and not alternative_names(names, ips):  # checked before any key is made
        raise CertError("a server certificate needs at least one --name or --ip")
    targets = [directory / f"{stem}{ext}" for stem in stems for ext in (".crt", ".key")]
    if not force and any(p.exists() for p in targets):
        existing = ", ".join(str(p) for p in targets if p.exists())
        raise CertError(f"{existing} already exist: use --force to replace them")
    have_ca = [(directory / n).exists() for n in (CA_CERT, CA_KEY)]
    if have_ca == [True, False] or have_ca == [False, True]:
        raise CertError(
            f"{directory} holds only one of {CA_CERT} and {CA_KEY}: restore or remove it"
        )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    written: list[Path] = []
    if all(have_ca):
        ca = load_ca(directory)
    else:
        ca = make_ca(now=now, key_type=key_type)
        written += write_pair(directory, CA_CERT.removesuffix(".crt"), ca)
    if server:
        cn = [*names, *ips][0]
        cert = issue(ca, cn, server=True, dns_names=names, ips=ips, now=now, key_type=key_type)
        written += write_pair(directory, "server", cert, force=True)
    for client in dict.fromkeys(clients):
        cert = issue(ca, client, server=False, days=CLIENT_DAYS, now=now, key_type=key_type)
        written += write_pair(directory, _client_stem(client), cert, force=True)
    return written


def _client_stem(name: str) -> str:
    """A client's files are named after it, so its name must make a plain file name."""
    if not name or name.startswith(".") or not all(c.isalnum() or c in "._-" for c in name):
        raise CertError(f"--client {name!r}: use letters, digits, '.', '_' and '-' only")
    if name in ("ca", "server"):
        raise CertError(f"--client {name!r}: that name is taken by the CA or server files")
    return name


def load_ca(directory: Path) -> Issued:
    """The CA in `directory` (ca.crt and ca.key)."""
    try:
        cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise CertError(f"cannot read the CA in {directory}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertError(f"{directory / CA_KEY}: not an EC or RSA key")
    return Issued(key, cert)


def write_pair(directory: Path, stem: str, issued: Issued, *, force: bool = False) -> list[Path]:
    """Write `stem`.crt (mode 0644) and `stem`.key (mode 0600, never readable by others even
    for an instant); an existing file is an error unless `force`."""
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    if not force:
        existing = [p for p in (cert_path, key_path) if p.exists()]
        if existing:
            names = ", ".join(str(p) for p in existing)
            raise CertError(f"{names} already exist: use --force to replace them")
    _write(key_path, issued.key_pem(), 0o600)
    _write(cert_path, issued.cert_pem(), 0o644)
    return [cert_path, key_path]


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(fd, mode)  # the umask may have taken bits away, and the file may have existed
        out.write(data)
    os.replace(tmp, path)
