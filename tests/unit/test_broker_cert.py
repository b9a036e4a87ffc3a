"""`citydata broker cert` and the MQTT TLS settings: what the certificates say, who signs them,
which files are written with which modes, what is refused, and how bad TLS settings stop
start-up. Connections over TLS are proven in tests/integration/test_mqtt_tls.py."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from citydata import broker_tls
from citydata.broker_tls import CertError, create, issue, load_ca
from citydata.cli import main
from citydata.mqtt import TLSFiles, close, make_client
from citydata.settings import ConfigError, load_settings

NAMES, IPS = ["broker.lamphaya.go.th", "localhost"], ["127.0.0.1", "10.0.0.5"]


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def made(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    create(directory, names=NAMES, ips=IPS, clients=["device-1"])
    return directory


def test_files_and_modes(made: Path) -> None:
    assert sorted(p.name for p in made.iterdir()) == [
        "ca.crt",
        "ca.key",
        "device-1.crt",
        "device-1.key",
        "server.crt",
        "server.key",
    ]
    assert _mode(made) == 0o700
    for path in made.iterdir():
        assert _mode(path) == (0o600 if path.suffix == ".key" else 0o644), path


def test_key_is_mode_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        create(tmp_path, names=["localhost"], ips=[])
    finally:
        os.umask(old)
    assert _mode(tmp_path / "server.key") == 0o600 and _mode(tmp_path / "ca.key") == 0o600


def test_server_certificate_verifies_for_every_name_and_ip_and_no_other(made: Path) -> None:
    ca, server = _cert(made / "ca.crt"), _cert(made / "server.crt")
    store = Store([ca])
    for name in NAMES:
        PolicyBuilder().store(store).build_server_verifier(x509.DNSName(name)).verify(server, [])
    for ip in IPS:
        subject = x509.IPAddress(ipaddress.ip_address(ip))
        PolicyBuilder().store(store).build_server_verifier(subject).verify(server, [])
    with pytest.raises(VerificationError):
        verifier = PolicyBuilder().store(store).build_server_verifier(x509.DNSName("evil.example"))
        verifier.verify(server, [])
    usage = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_client_certificate_is_for_clients_only(made: Path) -> None:
    ca, client = _cert(made / "ca.crt"), _cert(made / "device-1.crt")
    client.verify_directly_issued_by(ca)  # Mosquitto's check is proven in test_mqtt_tls.py
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(VerificationError):  # a device cannot pose as the broker
        verifier = PolicyBuilder().store(Store([ca])).build_server_verifier(x509.DNSName("x"))
        verifier.verify(client, [])


def test_validity_periods(made: Path) -> None:
    ca, server = _cert(made / "ca.crt"), _cert(made / "server.crt")
    ca_days = (ca.not_valid_after_utc - ca.not_valid_before_utc).days
    server_days = (server.not_valid_after_utc - server.not_valid_before_utc).days
    assert ca_days == broker_tls.CA_DAYS and server_days == broker_tls.SERVER_DAYS
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_expired_certificate_can_be_issued_for_tests(made: Path) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    old = issue(load_ca(made), "localhost", server=True, dns_names=["localhost"], now=past, days=30)
    assert old.cert.not_valid_after_utc < dt.datetime.now(dt.UTC)


def test_existing_files_are_kept_unless_forced_and_the_ca_always(made: Path) -> None:
    before = {p.name: p.read_bytes() for p in made.iterdir()}
    with pytest.raises(CertError, match="already exist: use --force"):
        create(made, names=["other"], ips=[], clients=["device-2"])
    assert {p.name: p.read_bytes() for p in made.iterdir()} == before  # not even device-2

    create(made, names=["other"], ips=[], force=True)
    assert (made / "ca.crt").read_bytes() == before["ca.crt"]
    assert (made / "ca.key").read_bytes() == before["ca.key"]
    assert (made / "server.crt").read_bytes() != before["server.crt"]
    names = _cert(made / "server.crt").extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert names.value.get_values_for_type(x509.DNSName) == ["other"]


def test_client_certificates_alone_from_the_existing_ca(made: Path) -> None:
    server = (made / "server.crt").read_bytes()
    assert create(made, names=[], ips=[], clients=["device-2"], server=False) == [
        made / "device-2.crt",
        made / "device-2.key",
    ]
    assert (made / "server.crt").read_bytes() == server
    _cert(made / "device-2.crt").verify_directly_issued_by(_cert(made / "ca.crt"))


@pytest.mark.parametrize(
    ("names", "ips", "clients", "message"),
    [
        (["127.0.0.1"], [], [], "is an IP address: give it with --ip"),
        (["a b"], [], [], "is not a host name"),
        ([], ["not-an-ip"], [], "is not an IP address"),
        ([], [], [], "needs at least one --name or --ip"),
        (["localhost"], [], ["../escape"], "letters, digits"),
        (["localhost"], [], ["ca"], "taken by the CA"),
    ],
)
def test_bad_requests_write_nothing(
    tmp_path: Path, names: list[str], ips: list[str], clients: list[str], message: str
) -> None:
    with pytest.raises(CertError, match=message):
        create(tmp_path / "pki", names=names, ips=ips, clients=clients)
    assert not (tmp_path / "pki").exists()


def test_half_a_ca_is_refused(made: Path) -> None:
    (made / "ca.key").unlink()
    with pytest.raises(CertError, match=r"only one of ca\.crt and ca\.key"):
        create(made, names=["localhost"], ips=[], force=True)


def test_rsa_keys(tmp_path: Path) -> None:
    create(tmp_path, names=["localhost"], ips=[], key_type="rsa")
    key = _cert(tmp_path / "server.crt").public_key()
    assert key.key_size == 3072  # type: ignore[union-attr]
    usage = _cert(tmp_path / "server.crt").extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.value.key_encipherment


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CITYDATA_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("clean_env")
def test_command_prints_files_and_broker_lines_and_refuses_a_second_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = tmp_path / "pki"
    assert main(["broker", "cert", str(pki), "--name", "mqtt.example", "--client", "dev"]) == 0
    out, _ = capsys.readouterr()
    for name in ("ca.crt", "ca.key", "server.crt", "server.key", "dev.crt", "dev.key"):
        assert f"wrote {pki / name}\n" in out
    assert f"certfile {pki / 'server.crt'}\n" in out and f"keyfile {pki / 'server.key'}" in out
    assert f"CITYDATA_MQTT_CA_FILE={pki / 'ca.crt'}" in out
    assert "mqtts://USER:PASSWORD@mqtt.example:8883" in out

    assert main(["broker", "cert", str(pki), "--name", "mqtt.example"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "already exist: use --force" in err


@pytest.mark.usefixtures("clean_env")
def test_command_defaults_to_this_host_localhost_and_loopback(tmp_path: Path) -> None:
    import socket

    assert main(["broker", "cert", str(tmp_path)]) == 0
    alt = _cert(tmp_path / "server.crt").extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert alt.value.get_values_for_type(x509.DNSName) == list(
        dict.fromkeys([socket.gethostname(), "localhost"])
    )
    assert alt.value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]


# --- settings and the client's TLS context -------------------------------------------------------


def test_tls_settings_resolve_and_reach_the_client(made: Path, tmp_path: Path) -> None:
    env = {
        "CITYDATA_MQTT_URL": "mqtts://collector:pw@broker.lamphaya.go.th:8883",
        "CITYDATA_MQTT_CA_FILE": "pki/ca.crt",
        "CITYDATA_MQTT_CLIENT_CERT": "pki/device-1.crt",
        "CITYDATA_MQTT_CLIENT_KEY": "pki/device-1.key",
    }
    settings = load_settings(env, cwd=made.parent)
    assert settings.mqtt_ca_file == made / "ca.crt"
    files = TLSFiles.of(settings)
    assert files == TLSFiles(made / "ca.crt", made / "device-1.crt", made / "device-1.key")
    context = files.context()
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert load_settings(settings.env()).mqtt_client_key == made / "device-1.key"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CITYDATA_MQTT_CA_FILE": "pki/none.crt"}, "CITYDATA_MQTT_CA_FILE: no such file: "),
        ({"CITYDATA_MQTT_CA_FILE": "pki"}, "CITYDATA_MQTT_CA_FILE: not a file: "),
        (
            {"CITYDATA_MQTT_CLIENT_CERT": "pki/device-1.crt"},
            "CITYDATA_MQTT_CLIENT_CERT and CITYDATA_MQTT_CLIENT_KEY: give both or neither",
        ),
        (
            {"CITYDATA_MQTT_CLIENT_KEY": "pki/device-1.key"},
            "CITYDATA_MQTT_CLIENT_CERT and CITYDATA_MQTT_CLIENT_KEY: give both or neither",
        ),
        (
            {"CITYDATA_MQTT_URL": "mqtt://localhost:1883", "CITYDATA_MQTT_CA_FILE": "pki/ca.crt"},
            "CITYDATA_MQTT_CA_FILE: TLS files for a plain mqtt:// CITYDATA_MQTT_URL",
        ),
        ({"CITYDATA_MQTT_TLS_INSECURE": "true"}, "CITYDATA_MQTT_TLS_INSECURE: unknown setting"),
    ],
)
def test_bad_tls_settings_stop_start_up(made: Path, env: dict[str, str], message: str) -> None:
    env = {"CITYDATA_MQTT_URL": "mqtts://localhost:8883", **env}
    with pytest.raises(ConfigError) as caught:
        load_settings(env, cwd=made.parent)
    assert any(problem.startswith(message) for problem in caught.value.problems), (
        caught.value.problems
    )


def test_make_client_refuses_tls_files_for_a_plain_url(made: Path) -> None:
    with pytest.raises(ValueError, match="plain mqtt:// URL; use mqtts://"):
        make_client("mqtt://localhost:1883", "x", tls=TLSFiles(made / "ca.crt"))
    client, host, port = make_client("mqtts://localhost", "x", tls=TLSFiles(made / "ca.crt"))
    close(client)
    assert (host, port) == ("localhost", 8883)
