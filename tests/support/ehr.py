"""A test EHR (CDS Client): its own key pairs, a JWKS file, signed JWTs and hook requests.

It signs real JWTs with RSA and EC keys (and, to test rejection, HMAC and ``alg: none``), and
builds ``patient-view`` requests whose prefetch carries FHIR R4 JSON with real LOINC codes and
UCUM units.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://ehr.example.org/"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.4.1.999.1"

#: variable -> (LOINC, display, UCUM unit, category)
LOINC = {
    "heart_rate": ("8867-4", "Heart rate", "/min", "vital-signs"),
    "resp_rate": ("9279-1", "Respiratory rate", "/min", "vital-signs"),
    "spo2": ("59408-5", "Oxygen saturation by Pulse oximetry", "%", "vital-signs"),
    "fio2": ("3150-0", "Inhaled oxygen concentration", "%", "vital-signs"),
    "temperature": ("8310-5", "Body temperature", "Cel", "vital-signs"),
    "sbp": ("8480-6", "Systolic blood pressure", "mm[Hg]", "vital-signs"),
    "dbp": ("8462-4", "Diastolic blood pressure", "mm[Hg]", "vital-signs"),
    "o2_flow": ("3151-8", "Inhaled oxygen flow rate", "L/min", "vital-signs"),
    "gcs_total": ("9269-2", "Glasgow coma score total", "{score}", "vital-signs"),
    "map": ("8478-0", "Mean blood pressure", "mm[Hg]", "vital-signs"),
    "pao2": ("2703-7", "Oxygen [Partial pressure] in Arterial blood", "mm[Hg]", "laboratory"),
    "lactate": ("2524-7", "Lactate [Moles/volume] in Serum or Plasma", "mmol/L", "laboratory"),
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TestEhr:
    """Signs CDS Hooks JWTs as ``iss``; publishes its public keys as a JWKS file."""

    __test__ = False

    issuer: str = ISSUER
    rsa_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    ec_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (kid ``rsa-1`` for RS384, ``ec-1`` for ES384)."""
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa_key.public_key()))
        rsa_jwk.update(kid="rsa-1", use="sig", alg="RS384")
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec_key.public_key()))
        ec_jwk.update(kid="ec-1", use="sig", alg="ES384")
        return {"keys": [rsa_jwk, ec_jwk]}

    def write_jwks(self, path: Path) -> Path:
        """Write the JWKS file the service is configured with."""
        path.write_text(json.dumps(self.jwks()))
        return path

    def token(
        self,
        aud: str | list[str],
        *,
        alg: str = "RS384",
        kid: str | None = None,
        iss: str | None = None,
        lifetime_s: int = 300,
        issued_ago_s: int = 0,
        jti: str | None = None,
        drop: tuple[str, ...] = (),
        hmac_secret: str = "shared-secret-that-must-not-work",  # noqa: S107
        typ: str | None = "JWT",
    ) -> str:
        """A signed JWT; ``alg`` may be RS384/RS256/PS384 (RSA), ES384 (EC), HS256, or none."""
        now = int(datetime.now(UTC).timestamp()) - issued_ago_s
        claims: dict[str, Any] = {
            "iss": iss or self.issuer,
            "aud": aud,
            "exp": now + lifetime_s,
            "iat": now,
            "jti": jti or str(uuid.uuid4()),
            "tenant": "icu-north",
        }
        for name in drop:
            claims.pop(name, None)
        default_kid = "ec-1" if alg.startswith("ES") else "rsa-1"
        headers: dict[str, Any] = {"typ": typ}  # None: no typ header at all (PyJWT drops it)
        if kid != "":
            headers["kid"] = kid or default_kid
        if alg == "none":
            header = {"alg": "none", **headers}
            return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."
        if alg.startswith("HS"):
            return jwt.encode(claims, hmac_secret, algorithm=alg, headers=headers)
        key: Any = self.ec_key if alg.startswith("ES") else self.rsa_key
        return jwt.encode(claims, key, algorithm=alg, headers=headers)


def observation(
    obs_id: str,
    patient_id: str,
    variable: str,
    value: float,
    time: datetime,
    *,
    status: str = "final",
) -> dict[str, Any]:
    """One FHIR R4 Observation with its LOINC code and UCUM unit."""
    code, display, unit, category = LOINC[variable]
    return {
        "resourceType": "Observation",
        "id": obs_id,
        "meta": {"versionId": "1", "lastUpdated": time.isoformat()},
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": category,
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": time.isoformat(),
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def patient(patient_id: str, mrn: str) -> dict[str, Any]:
    """A FHIR R4 Patient with the MRN identifier shared with DICOM PatientID."""
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": [{"system": MRN_SYSTEM, "value": mrn}],
        "gender": "female",
        "birthDate": "1956-03-14",
    }


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A searchset Bundle of ``resources``."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


def ward_observations(
    patient_id: str, *, now: datetime, severity: float, hours: int = 48, prefix: str = "obs"
) -> list[dict[str, Any]]:
    """Hourly vitals (and 6-hourly labs) for ``hours``; ``severity`` 0..1 worsens the last 6 h."""
    found: list[dict[str, Any]] = []
    for h in range(hours - 1, -1, -1):
        t = now - timedelta(hours=h, minutes=5)
        late = max(0.0, (6 - h) / 6) * severity  # ramps up over the last 6 h
        values = {
            "heart_rate": 88 + 30 * late,
            "resp_rate": 18 + 14 * late,
            "spo2": 96 - 6 * late,
            "fio2": 28 + 32 * late,
            "temperature": 37.2 + 0.8 * late,
            "map": 78 - 8 * late,
            "sbp": 118 - 10 * late,
            "dbp": 64 - 5 * late,
            "o2_flow": 2 + 8 * late,
            "gcs_total": 15 - round(2 * late),
        }
        if h % 6 == 0:
            values.update(pao2=92 - 35 * late, lactate=1.2 + 2.5 * late)
        for variable, value in values.items():
            # a different severity is different data: new Observation ids (versions are immutable)
            obs_id = f"{prefix}-{patient_id}-{variable}-{h}-s{round(severity * 100)}"
            found.append(observation(obs_id, patient_id, variable, round(value, 1), t))
    return found


def hook_request(
    patient_id: str,
    *,
    prefetch: dict[str, Any] | None = None,
    fhir_server: str | None = None,
    access_token: str | None = None,
) -> dict[str, Any]:
    """A ``patient-view`` request body."""
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/dr-lee", "patientId": patient_id},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    if fhir_server:
        body["fhirServer"] = fhir_server
    if access_token:
        body["fhirAuthorization"] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Observation.read",
            "subject": "ventfusion",
        }
    return body


def full_prefetch(
    patient_id: str, mrn: str, *, now: datetime, severity: float, prefix: str = "obs"
) -> dict[str, Any]:
    """Prefetch for our templates: Patient, vitals and labs searchsets."""
    observations = ward_observations(patient_id, now=now, severity=severity, prefix=prefix)
    vitals = [o for o in observations if o["category"][0]["coding"][0]["code"] == "vital-signs"]
    labs = [o for o in observations if o["category"][0]["coding"][0]["code"] == "laboratory"]
    return {
        "patient": patient(patient_id, mrn),
        "vitals": searchset(vitals),
        "labs": searchset(labs),
    }
