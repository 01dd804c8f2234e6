"""HTTPS for a class: the teacher's own certificate, or one digitlab makes once (cryptography) and keeps beside the
settings, readable by its owner only. Students check its fingerprint against the one `digitlab serve` prints."""

import datetime
import ipaddress
import socket
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from digitlab import UserError
from digitlab.files import write_atomically

MADE_DAYS = 397  # what browsers accept of a certificate's lifetime; made again when under RENEW_DAYS are left
RENEW_DAYS = 14
MAX_PEM_BYTES = 1 << 20


def names() -> list[str]:
    """The names and addresses students may type for this machine: localhost, its host names, its addresses."""
    host = socket.gethostname()
    found = ["localhost", "127.0.0.1", "::1", host, socket.getfqdn()]
    try:
        found += [info[4][0] for info in socket.getaddrinfo(host, None)]
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # the address the machine reaches others from (no packet is sent)
        try:
            s.connect(("192.0.2.1", 9))
            found.append(s.getsockname()[0])
        except OSError:
            pass
    return list(dict.fromkeys(n.split("%")[0] for n in found if n))


def _alt_names(hosts: list[str]) -> x509.SubjectAlternativeName:
    entries = []
    for h in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            entries.append(x509.DNSName(h))
    return x509.SubjectAlternativeName(entries)


def make(cert_path: Path, key_path: Path, hosts: list[str] | None = None) -> None:
    """A new self-signed certificate for hosts (default: names()) and its key, both written with mode 0600."""
    hosts = hosts or names()
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"digitlab class on {socket.gethostname()}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=MADE_DAYS))
            .add_extension(_alt_names(hosts), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    write_atomically(key_path, lambda f: f.write(key_pem), mode=0o600)
    write_atomically(cert_path, lambda f: f.write(cert.public_bytes(serialization.Encoding.PEM)), mode=0o600)


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_PEM_BYTES:
            raise UserError(f"The {what} {path} is over 1 MB: name a PEM file.")
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"There is no {what} at {path}: fix classroom.{what} in the settings.") from None
    except OSError as e:
        raise UserError(f"Could not read the {what} {path} ({e.strerror}): let this user read it.") from None


def load(cert_path: Path, key_path: Path) -> x509.Certificate:
    """The certificate, once it is checked to be PEM, in date, and to match its key: else one sentence."""
    try:
        cert = x509.load_pem_x509_certificate(_read(cert_path, "certificate"))
    except ValueError:
        raise UserError(f"{cert_path} is not a PEM certificate: name the certificate file (BEGIN CERTIFICATE).") from None
    try:
        key = serialization.load_pem_private_key(_read(key_path, "key"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise UserError(f"{key_path} is not an unencrypted PEM private key: name the key file of the certificate "
                        "(decrypt it first if it asks for a passphrase).") from None
    ours = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    theirs = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if ours != theirs:
        raise UserError(f"The key {key_path} is not the key of the certificate {cert_path}: name the pair that "
                        "belong together.")
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.timezone.utc):
        raise UserError(f"The certificate {cert_path} expired on {cert.not_valid_after_utc:%Y-%m-%d}: renew it, "
                        "or remove classroom.certificate to let digitlab make one.")
    return cert


def hosts(cert: x509.Certificate) -> list[str]:
    """The names and addresses a certificate is for (its subject's common name when it lists none)."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return [str(n.value) for n in names]
    except x509.ExtensionNotFound:
        return [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate as browsers show it: 32 hex pairs joined by colons."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def of_class(s) -> tuple[Path, Path, bool]:
    """A class's (certificate, key, whether the teacher named them): the settings' pair, else the one digitlab makes
    beside the settings file."""
    from digitlab import settings

    if s.classroom.certificate:
        return Path(s.classroom.certificate), Path(s.classroom.key), True
    return settings.secret_file(s, "cert.pem"), settings.secret_file(s, "key.pem"), False


def ensure(cert_path: Path, key_path: Path, own: bool) -> tuple[x509.Certificate, bool]:
    """The certificate to serve and whether it was made now. own: the teacher named it, so it is only checked; else
    digitlab makes one when there is none, or when the one it made expires within RENEW_DAYS."""
    if own:
        return load(cert_path, key_path), False
    if cert_path.exists() and key_path.exists():
        try:
            cert = load(cert_path, key_path)
            left = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
            if left > datetime.timedelta(days=RENEW_DAYS):
                return cert, False
        except UserError:  # damaged or expired: one of ours, so it is made again
            pass
    make(cert_path, key_path)
    return load(cert_path, key_path), True
