"""The webhook's self-managed CA and serving certificate, kept in a Secret and rotated.

Owns three things: issuing a CA and a serving certificate (ECDSA P-256, pure functions
over ``cryptography``), deciding when they must be rotated (fewer than 30 days left, a
name missing, a broken bundle), and keeping the Secret and the webhook configurations'
``caBundle`` in step (``CertKeeper``). Every replica runs the same keeper: a create race
is settled by AlreadyExists -> reread, a rotation race by a resourceVersion-guarded
replace -> Conflict -> reread, so all replicas converge on one Secret.

Never serves TLS (``fluid.webhook.server`` does) and never logs key material. Called by
``fluid.webhook.setup`` at start and then periodically.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fluid.kube import KubeClient, errors, resources

__all__ = [
    "CA_VALIDITY",
    "LEAF_VALIDITY",
    "ROTATE_BEFORE",
    "Bundle",
    "CertKeeper",
    "issue",
    "rotation_reason",
    "serving_names",
]

log = structlog.get_logger(__name__)

CA_VALIDITY = datetime.timedelta(days=3650)
"""Ten years: the CA is only replaced when a serving certificate could outlive it."""
LEAF_VALIDITY = datetime.timedelta(days=365)
"""One year for the serving certificate; rotated well before that (``ROTATE_BEFORE``)."""
ROTATE_BEFORE = datetime.timedelta(days=30)
"""Rotate when fewer than 30 days remain, so a month of failed checks is still harmless."""

_KEYS = ("ca.crt", "ca.key", "tls.crt", "tls.key", "ca-bundle.crt")
_BACKDATE = datetime.timedelta(minutes=5)
"""Certificates start 5 minutes in the past to tolerate clock skew between nodes."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def serving_names(service: str, namespace: str) -> tuple[str, ...]:
    """Every name the API server may use for the Service, plus loopback for local tests."""
    return (
        service, f"{service}.{namespace}", f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local", "localhost", "127.0.0.1", "::1",
    )


@attrs.frozen
class Bundle:
    """PEM material as stored in the Secret; ``ca_bundle`` is what goes into ``caBundle``.

    ``ca_bundle`` holds the current CA and, after a CA rotation, the previous one while it
    is still valid, so replicas serving the old certificate stay trusted until they reload.
    """

    ca_cert: bytes
    ca_key: bytes
    cert: bytes
    key: bytes
    ca_bundle: bytes

    @classmethod
    def from_secret(cls, secret: dict[str, Any] | None) -> Bundle | None:
        data = (secret or {}).get("data") or {}
        if not all(data.get(k) for k in _KEYS):
            return None
        try:
            ca_cert, ca_key, cert, key, ca_bundle = (base64.b64decode(data[k]) for k in _KEYS)
        except (ValueError, TypeError):
            return None
        return cls(ca_cert, ca_key, cert, key, ca_bundle)

    def secret_data(self) -> dict[str, str]:
        values = (self.ca_cert, self.ca_key, self.cert, self.key, self.ca_bundle)
        return {k: base64.b64encode(v).decode("ascii") for k, v in zip(_KEYS, values, strict=True)}

    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert)

    def authority(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.ca_cert)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _sans(names: Iterable[str]) -> list[x509.GeneralName]:
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    return sans


def _new_ca(now: datetime.datetime, validity: datetime.timedelta) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"fluid-webhook-ca-{now:%Y%m%d%H%M%S}"),
    ])
    usage = x509.KeyUsage(
        digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        encipher_only=False, decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE).not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _pem_cert(cert), _pem_key(key)


def _new_leaf(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    *,
    names: Sequence[str],
    now: datetime.datetime,
    validity: datetime.timedelta,
) -> tuple[bytes, bytes]:
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError("the webhook CA key must be an ECDSA key")
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = min(now + validity, ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_sans(names)), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _pem_cert(cert), _pem_key(key)


def _still_valid(pem: bytes, now: datetime.datetime) -> bool:
    try:
        return x509.load_pem_x509_certificate(pem).not_valid_after_utc > now
    except ValueError:
        return False


def issue(
    *,
    names: Sequence[str],
    previous: Bundle | None = None,
    now: datetime.datetime | None = None,
    ca_validity: datetime.timedelta = CA_VALIDITY,
    leaf_validity: datetime.timedelta = LEAF_VALIDITY,
    rotate_before: datetime.timedelta = ROTATE_BEFORE,
) -> Bundle:
    """A fresh serving certificate, signed by ``previous``'s CA while that CA has room.

    The CA is replaced when it would expire before the new certificate's rotation date;
    the outgoing CA then stays in ``ca_bundle`` until it expires.
    """
    now = now or _now()
    if previous is not None and _ca_usable(previous, now + leaf_validity + rotate_before):
        ca_cert, ca_key = previous.ca_cert, previous.ca_key
        ca_bundle = _retained_bundle(previous.ca_bundle, now) or ca_cert
    else:
        ca_cert, ca_key = _new_ca(now, ca_validity)
        keep_old = previous is not None and _still_valid(previous.ca_cert, now)
        ca_bundle = ca_cert + previous.ca_cert if previous is not None and keep_old else ca_cert
    cert, key = _new_leaf(ca_cert, ca_key, names=names, now=now, validity=leaf_validity)
    return Bundle(ca_cert, ca_key, cert, key, ca_bundle)


def _ca_usable(bundle: Bundle, until: datetime.datetime) -> bool:
    try:
        ca = bundle.authority()
        serialization.load_pem_private_key(bundle.ca_key, password=None)
    except (ValueError, TypeError):
        return False
    return ca.not_valid_after_utc > until


def _retained_bundle(pem: bytes, now: datetime.datetime) -> bytes:
    """The bundle minus certificates that have expired (an old CA ages out of it)."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError:
        return b""
    return b"".join(_pem_cert(c) for c in certs if c.not_valid_after_utc > now)


def rotation_reason(
    bundle: Bundle | None,
    *,
    names: Sequence[str],
    now: datetime.datetime | None = None,
    rotate_before: datetime.timedelta = ROTATE_BEFORE,
) -> str | None:
    """Why the stored material cannot be served as is, or None when it is fine."""
    if bundle is None:
        return "missing"
    now = now or _now()
    try:
        leaf, ca = bundle.leaf(), bundle.authority()
        serialization.load_pem_private_key(bundle.key, password=None)
    except (ValueError, TypeError):
        return "unreadable"
    if leaf.issuer != ca.subject:
        return "not_signed_by_ca"
    if leaf.not_valid_after_utc - now < rotate_before:
        return "leaf_expiring"
    if ca.not_valid_after_utc - now < rotate_before:
        return "ca_expiring"
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    present = {str(v) for v in sans.get_values_for_type(x509.DNSName)}
    present |= {str(v) for v in sans.get_values_for_type(x509.IPAddress)}
    if not set(names) <= present:
        return "names_changed"
    return None


@attrs.define
class CertKeeper:
    """Keeps the certificate Secret valid and the webhook configurations trusting its CA.

    ``mutating`` and ``validating`` name the webhook configurations whose every webhook
    gets ``caBundle``; a configuration that does not exist (yet) is skipped, not an error.
    """

    client: KubeClient
    namespace: str
    secret_name: str
    names: tuple[str, ...]
    mutating: tuple[str, ...] = ()
    validating: tuple[str, ...] = ()
    rotate_before: datetime.timedelta = ROTATE_BEFORE
    leaf_validity: datetime.timedelta = LEAF_VALIDITY
    mutating_changes: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None
    """Further JSON Patch ops (no ``test`` op) a live mutating configuration needs (the pod
    webhooks' selection): sent with its caBundle, so one read and one patch each round."""

    async def ensure(self) -> Bundle:
        """Read the Secret; create or rotate it when needed; return what every replica serves."""
        for _ in range(5):
            secret = await self.client.get_or_none(resources.SECRETS, self.secret_name, self.namespace)
            current = Bundle.from_secret(secret)
            reason = rotation_reason(current, names=self.names, rotate_before=self.rotate_before)
            if reason is None and current is not None:
                return current
            fresh = issue(names=self.names, previous=current, rotate_before=self.rotate_before,
                          leaf_validity=self.leaf_validity)
            try:
                await self._store(secret, fresh)
            except (errors.AlreadyExists, errors.Conflict):
                log.info("webhook_cert_race_lost", secret=self.secret_name, reason=reason)
                continue  # another replica wrote first: serve what it wrote
            log.info("webhook_cert_issued", secret=self.secret_name, namespace=self.namespace,
                     reason=reason, not_after=fresh.leaf().not_valid_after_utc.isoformat())
            return fresh
        raise RuntimeError(f"could not settle Secret {self.namespace}/{self.secret_name}")

    async def _store(self, secret: dict[str, Any] | None, bundle: Bundle) -> None:
        body: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {
                "name": self.secret_name, "namespace": self.namespace,
                "labels": {"app.kubernetes.io/part-of": "fluid",
                           "app.kubernetes.io/component": "webhook"},
            },
            "data": bundle.secret_data(),
        }
        if secret is None:
            await self.client.create(body, res=resources.SECRETS)
            return
        body["metadata"]["resourceVersion"] = secret["metadata"]["resourceVersion"]
        await self.client.replace(body, res=resources.SECRETS)

    async def patch_ca_bundles(self, bundle: Bundle) -> int:
        """Set ``caBundle`` on every webhook of the configurations (with ``mutating_changes``
        on the mutating ones, in the same patch); returns how many fields changed."""
        changed = 0
        for res, names in ((resources.MUTATING_WEBHOOKS, self.mutating),
                           (resources.VALIDATING_WEBHOOKS, self.validating)):
            more = self.mutating_changes if res is resources.MUTATING_WEBHOOKS else None
            for name in names:
                changed += await self._patch_one(res, name, bundle.ca_bundle, more)
        return changed

    async def _patch_one(
        self, res: resources.Resource, name: str, ca_bundle: bytes,
        more: Callable[[dict[str, Any]], list[dict[str, Any]]] | None,
    ) -> int:
        config = await self.client.get_or_none(res, name)
        if config is None:
            return 0
        wanted = base64.b64encode(ca_bundle).decode("ascii")
        ops: list[dict[str, Any]] = [
            {"op": "add", "path": f"/webhooks/{index}/clientConfig/caBundle", "value": wanted}
            for index, webhook in enumerate(config.get("webhooks") or ())
            if (webhook.get("clientConfig") or {}).get("caBundle") != wanted
        ]
        changes = more(config) if more is not None else []
        if not ops and not changes:
            return 0
        guard = {"op": "test", "path": "/metadata/resourceVersion",
                 "value": config["metadata"]["resourceVersion"]}
        await self.client.json_patch(res, name, None, [guard, *ops, *changes])
        if ops:
            log.info("webhook_ca_bundle_patched", kind=res.kind, name=name, webhooks=len(ops))
        if changes:
            log.info("webhook_selection_patched", name=name, fields=len(changes))
        return len(ops) + len(changes)
