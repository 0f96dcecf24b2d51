"""Auth: static bearer and SMART Backend Services (RS384 / ES384 assertions, token caching)."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fhir_adapter.auth import BearerAuth, SmartBackendAuth, build_auth
from fhir_adapter.client import FhirClient
from fhir_adapter.errors import FhirAuthError, FhirHttpError
from fhir_adapter.resources import Patient
from tests.support.fhir_server import FhirTestServer, SmartClient


def _key_pair(algorithm: str) -> tuple[bytes, bytes]:
    private = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS384"
        else ec.generate_private_key(ec.SECP384R1())
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


@pytest.fixture
def secured_server() -> FhirTestServer:
    server = FhirTestServer(require_auth=True).start()
    yield server  # type: ignore[misc]
    server.stop()


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_smart_backend_services(secured_server: FhirTestServer, algorithm: str) -> None:
    private_pem, public_pem = _key_pair(algorithm)
    secured_server.smart_clients["ventfusion"] = SmartClient(public_pem, algorithm)
    auth = build_auth(
        "smart",
        client_id="ventfusion",
        token_url=secured_server.token_url,
        private_key_pem=private_pem,
        key_id="k1",
        algorithm=algorithm,  # type: ignore[arg-type]
        scope="system/Observation.rs",
    )
    assert isinstance(auth, SmartBackendAuth)

    async def run() -> None:
        async with FhirClient(secured_server.base_url, auth=auth) as client:
            for _ in range(3):
                await client.create({"resourceType": "Patient", "gender": "male"})
            assert len([p async for p in client.search(Patient, {"_count": "2"})]) == 3

    asyncio.run(run())
    assert auth.tokens_fetched == 1  # cached across requests and pages
    assert len(secured_server.tokens) == 1


def test_expired_or_revoked_token_is_fetched_again(secured_server: FhirTestServer) -> None:
    private_pem, public_pem = _key_pair("ES384")
    secured_server.smart_clients["ventfusion"] = SmartClient(public_pem, "ES384")
    auth = SmartBackendAuth(
        client_id="ventfusion",
        token_url=secured_server.token_url,
        private_key_pem=private_pem,
        key_id="k1",
        algorithm="ES384",
    )

    async def run() -> None:
        async with FhirClient(secured_server.base_url, auth=auth) as client:
            await client.get_json("Patient", {"_count": "1"})
            secured_server.tokens.clear()  # the server forgets (revokes) every token
            await client.get_json("Patient", {"_count": "1"})

    asyncio.run(run())
    assert auth.tokens_fetched == 2


def test_assertion_signed_with_the_wrong_key_is_refused(secured_server: FhirTestServer) -> None:
    _, public_pem = _key_pair("RS384")
    other_private, _ = _key_pair("RS384")
    secured_server.smart_clients["ventfusion"] = SmartClient(public_pem, "RS384")
    auth = SmartBackendAuth(
        client_id="ventfusion",
        token_url=secured_server.token_url,
        private_key_pem=other_private,
        key_id="k1",
    )

    async def run() -> None:
        async with FhirClient(secured_server.base_url, auth=auth) as client:
            with pytest.raises(FhirAuthError, match="401"):
                await client.get_json("Patient")

    asyncio.run(run())
    assert secured_server.tokens == set()


def test_static_bearer(secured_server: FhirTestServer) -> None:
    secured_server.tokens.add("static-token-1")

    async def run() -> None:
        async with FhirClient(secured_server.base_url, auth=BearerAuth("static-token-1")) as ok:
            assert (await ok.get_json("Patient"))["resourceType"] == "Bundle"
        async with FhirClient(secured_server.base_url, auth=build_auth("none")) as anonymous:
            with pytest.raises(FhirHttpError) as info:
                await anonymous.get_json("Patient")
            assert info.value.status == 401

    asyncio.run(run())


def test_bad_auth_configuration() -> None:
    with pytest.raises(FhirAuthError):
        build_auth("bearer")
    with pytest.raises(FhirAuthError):
        build_auth("kerberos")
    with pytest.raises(FhirAuthError):
        SmartBackendAuth(
            client_id="c", token_url="https://t", private_key_pem=b"k", key_id="", algorithm="HS256"
        )  # type: ignore[arg-type]
