"""AdmissionReview parsing, responses, the validating handler and the HTTPS server."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import RawTestServer, TestClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fluid.webhook import admission, server


def _review(request: dict[str, Any]) -> bytes:
    return orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                         "request": request})


def _request(obj: dict[str, Any], *, operation: str = "CREATE",
             old: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "uid": "0a1b", "kind": {"group": "data.fluid.io", "version": "v1alpha1",
                                "kind": obj["kind"]},
        "operation": operation, "namespace": "team", "name": obj["metadata"]["name"],
        "object": obj, "oldObject": old, "dryRun": False,
    }


def _load(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
            "metadata": {"name": "warm"}, "spec": {"dataset": {"name": "ds"}, **spec}}


async def _nothing(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    return None


@pytest.mark.parametrize(("body", "complaint"), [
    (b"{not json", "not JSON"),
    (b"[]", "must be a JSON object"),
    (orjson.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}),
     "expected an admission.k8s.io/v1 AdmissionReview"),
    (orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}),
     "request must be a JSON object"),
    (_review({"operation": "CREATE"}), "request.uid is missing"),
    (_review({"uid": "u", "object": "text"}), "request.object must be a JSON object"),
])
def test_malformed_reviews_say_what_is_wrong(body: bytes, complaint: str) -> None:
    with pytest.raises(admission.ReviewError, match=complaint):
        admission.parse_review(body)


def test_parse_a_review() -> None:
    parsed = admission.parse_review(_review(_request(_load())))
    assert (parsed.uid, parsed.kind, parsed.group, parsed.operation) == (
        "0a1b", "DataLoad", "data.fluid.io", "CREATE")
    assert parsed.namespace == "team"
    assert parsed.object is not None
    assert parsed.old_object is None


def test_responses() -> None:
    assert admission.allowed("u") == {"apiVersion": "admission.k8s.io/v1",
                                      "kind": "AdmissionReview",
                                      "response": {"uid": "u", "allowed": True}}
    no = admission.denied("u", "spec.x: bad", causes=[{"field": "spec.x", "message": "bad"}])
    assert no["response"]["allowed"] is False
    assert no["response"]["status"] == {"code": 422, "reason": "Invalid", "message": "spec.x: bad",
                                        "details": {"causes": [{"field": "spec.x",
                                                                "message": "bad"}]}}
    ops = [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}]
    patch = admission.patched("u", ops)["response"]
    assert patch["patchType"] == "JSONPatch"
    assert orjson.loads(base64.b64decode(patch["patch"])) == ops
    assert admission.patched("u", []) == admission.allowed("u")


async def test_validating_handler_denies_naming_fields_and_fills_the_namespace() -> None:
    handle = admission.validating_handler(lookup=_nothing)
    bad = _load(target=[{"path": "relative"}], dataset={"name": "ds", "namespace": "elsewhere"})
    review = await handle(admission.parse_review(_review(_request(bad))))
    status = review["response"]["status"]
    assert review["response"]["allowed"] is False
    assert status["message"].startswith("[spec.dataset.namespace: must be the DataLoad's own "
                                        "namespace 'team'")
    assert [c["field"] for c in status["details"]["causes"]] == [
        "spec.dataset.namespace", "spec.target[0].path"]
    good = await handle(admission.parse_review(_review(_request(_load()))))
    assert good["response"] == {"uid": "0a1b", "allowed": True}


async def test_validating_handler_checks_updates_against_the_old_object() -> None:
    handle = admission.validating_handler(lookup=_nothing)
    old, new = _load(target=[{"path": "/a"}]), _load(target=[{"path": "/b"}])
    review = await handle(admission.parse_review(
        _review(_request(new, operation="UPDATE", old=old))))
    assert review["response"]["status"]["message"].startswith("spec: cannot be changed")
    delete = await handle(admission.parse_review(
        _review({**_request(old, operation="DELETE"), "object": None})))
    assert delete["response"]["allowed"] is True


async def test_cache_lookup_feeds_run_after_checks() -> None:
    earlier = _load(runAfter={"kind": "DataLoad", "name": "warm"})
    earlier["metadata"] = {"name": "prep", "namespace": "team"}
    lookup = admission.cache_lookup({("DataLoad", "team", "prep"): earlier})
    handle = admission.validating_handler(lookup=lookup)
    review = await handle(admission.parse_review(
        _review(_request(_load(runAfter={"kind": "DataLoad", "name": "prep"})))))
    assert "forms a cycle: DataLoad team/warm -> DataLoad team/prep -> DataLoad team/warm" in (
        review["response"]["status"]["message"])


async def _explode(request: admission.AdmissionRequest) -> dict[str, Any]:
    raise RuntimeError("apiserver unreachable")


async def test_server_routes_reviews_and_never_crashes() -> None:
    app = server.build_server({
        **server.validating_routes(lookup=_nothing),
        "/broken": _explode,
    })
    async with TestClient(RawTestServer(app.request_handler)) as client:
        malformed = await client.post(server.VALIDATE_PATH, data=b"{}")
        assert malformed.status == 400
        assert "malformed AdmissionReview" in await malformed.text()
        ok = await client.post(server.VALIDATE_PATH, data=_review(_request(_load())))
        assert ok.status == 200
        assert (await ok.json())["response"]["allowed"] is True
        broken = await client.post("/broken", data=_review(_request(_load())))
        body = await broken.json()
        assert body["response"]["status"]["code"] == 500
        assert "apiserver unreachable" in body["response"]["status"]["message"]
        health = await client.get("/healthz")
        assert health.status == 200
        assert (await client.get(server.VALIDATE_PATH)).status == 405
        assert (await client.post("/nowhere", data=b"{}")).status == 404


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_file, key_file


async def test_serve_over_tls(tmp_path: Path) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    running = await server.serve(
        server.build_server(server.validating_routes(lookup=_nothing)),
        host="127.0.0.1", port=0, cert_file=cert_file, key_file=key_file,
    )
    try:
        trust = ssl.create_default_context(cafile=str(cert_file))
        async with aiohttp.ClientSession() as session:
            url = f"https://127.0.0.1:{running.port}{server.VALIDATE_PATH}"
            async with session.post(url, data=_review(_request(_load())), ssl=trust) as resp:
                assert resp.status == 200
                assert (await resp.json())["response"]["allowed"] is True
            # a review above aiohttp's default 1 MiB cap (an object near etcd's limit) is read
            big = _load()
            big["metadata"]["annotations"] = {"note": "x" * (2 * 1024 * 1024)}
            async with session.post(url, data=_review(_request(big)), ssl=trust) as resp:
                assert resp.status == 200, await resp.text()
            too_big = b"{" + b" " * (server.MAX_BODY_BYTES + 1) + b"}"
            async with session.post(url, data=too_big, ssl=trust) as resp:
                assert resp.status == 413
    finally:
        await running.stop()
