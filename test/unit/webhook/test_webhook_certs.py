"""Certificate issue and rotation decisions (pure; the Secret race is tested against the API)."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

from cryptography import x509

from fluid.webhook import certs

NAMES = certs.serving_names("fluid-pod-admission-webhook", "fluid-system")
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def test_fresh_bundle_is_valid_and_names_the_service() -> None:
    bundle = certs.issue(names=NAMES, now=NOW)
    assert certs.rotation_reason(bundle, names=NAMES, now=NOW) is None
    leaf = bundle.leaf()
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "fluid-pod-admission-webhook.fluid-system.svc" in sans.get_values_for_type(x509.DNSName)
    assert leaf.issuer == bundle.authority().subject
    assert bundle.ca_bundle == bundle.ca_cert


def test_serving_cert_verifies_against_the_bundle(tmp_path: Path) -> None:
    bundle = certs.issue(names=NAMES)
    (tmp_path / "ca.pem").write_bytes(bundle.ca_bundle)
    client = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    assert client.get_ca_certs()  # the CA parses as a trust anchor
    (tmp_path / "tls.crt").write_bytes(bundle.cert)
    (tmp_path / "tls.key").write_bytes(bundle.key)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"))


def test_rotation_when_fewer_than_30_days_remain() -> None:
    bundle = certs.issue(names=NAMES, now=NOW)
    not_after = bundle.leaf().not_valid_after_utc
    assert certs.rotation_reason(bundle, names=NAMES, now=not_after - 31 * DAY) is None
    assert certs.rotation_reason(bundle, names=NAMES, now=not_after - 29 * DAY) == "leaf_expiring"


def test_missing_unreadable_and_renamed() -> None:
    bundle = certs.issue(names=NAMES, now=NOW)
    assert certs.rotation_reason(None, names=NAMES) == "missing"
    broken = certs.Bundle(bundle.ca_cert, bundle.ca_key, b"junk", bundle.key, bundle.ca_bundle)
    assert certs.rotation_reason(broken, names=NAMES, now=NOW) == "unreadable"
    other = certs.serving_names("renamed", "fluid-system")
    assert certs.rotation_reason(bundle, names=other, now=NOW) == "names_changed"


def test_leaf_rotation_keeps_the_ca() -> None:
    first = certs.issue(names=NAMES, now=NOW)
    later = NOW + 340 * DAY
    second = certs.issue(names=NAMES, previous=first, now=later)
    assert second.ca_cert == first.ca_cert
    assert second.cert != first.cert
    assert certs.rotation_reason(second, names=NAMES, now=later) is None
    assert second.ca_bundle == first.ca_bundle


def test_ca_rotation_keeps_the_old_ca_trusted_until_it_expires() -> None:
    first = certs.issue(names=NAMES, now=NOW, ca_validity=400 * DAY)
    later = NOW + 20 * DAY  # the CA would expire before a new leaf's rotation date
    second = certs.issue(names=NAMES, previous=first, now=later)
    assert second.ca_cert != first.ca_cert
    trusted = x509.load_pem_x509_certificates(second.ca_bundle)
    assert [c.subject for c in trusted] == [second.authority().subject, first.authority().subject]
    assert second.leaf().issuer == second.authority().subject
    third = certs.issue(names=NAMES, previous=second, now=NOW + 500 * DAY)
    subjects = [c.subject for c in x509.load_pem_x509_certificates(third.ca_bundle)]
    assert subjects == [second.authority().subject], "the expired CA ages out of the bundle"


def test_secret_round_trip() -> None:
    bundle = certs.issue(names=NAMES, now=NOW)
    secret = {"data": bundle.secret_data()}
    assert certs.Bundle.from_secret(secret) == bundle
    assert certs.Bundle.from_secret({"data": {"tls.crt": "eA=="}}) is None
    assert certs.Bundle.from_secret(None) is None
