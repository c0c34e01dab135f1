#!/usr/bin/env python3
"""Verifies one of our Open Badges 3.0 credentials with libraries that are not ours.

usage: ob3_verify.py PUBLIC_URL SERVER_URL JWT_FILE

PUBLIC_URL is the base the credential's URLs use; SERVER_URL is where that server answers
here (a test binds a free port): URLs are fetched with the first replaced by the second, as
a DNS entry would. Checks, in order:
  1. PyJWT: header (RS256, typ JWT, kid a URL), the key fetched from the kid URL (a bare
     JWK), the signature, and OB 3.0's claims (iss = issuer.id, jti = id, nbf = validFrom,
     sub = credentialSubject.id); the issuer's Profile fetched from issuer.id;
  2. openbadgeslib (an independent OB 3.0 verifier): the credential, its status entry and
     the signed status list it points to (same issuer, signature, bit).
Prints one JSON line: {"pyjwt": ..., "openbadgeslib": "valid" | "revoked" | "invalid: …"}.
"""
import json
import sys
import urllib.request
from datetime import datetime

import jwt
from cryptography.hazmat.primitives import serialization
from openbadgeslib.ob3 import OB3VerificationError, OB3Verifier

public, server, path = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/"), sys.argv[3]
token = open(path).read().strip()


def fetch(url):
    assert url.startswith(public + "/"), url
    with urllib.request.urlopen(server + url[len(public):], timeout=10) as answer:
        return answer.read()


def key_of(token):
    header = jwt.get_unverified_header(token)
    assert header.get("alg") == "RS256" and header.get("typ") == "JWT", header
    assert set(header) <= {"alg", "kid", "typ"}, header
    jwk = json.loads(fetch(header["kid"]))
    assert jwk.get("kty") == "RSA" and "d" not in jwk, jwk
    return jwt.PyJWK(jwk, algorithm="RS256").key


def pyjwt_check():
    key = key_of(token)
    vc = jwt.decode(token, key, algorithms=["RS256"], leeway=60,
                    options={"require": ["iss", "nbf", "jti", "sub"], "verify_aud": False})
    assert "vc" not in vc and "OpenBadgeCredential" in vc["type"], vc["type"]
    assert vc["iss"] == vc["issuer"]["id"], (vc["iss"], vc["issuer"])
    assert vc["jti"] == vc["id"]
    valid_from = datetime.fromisoformat(vc["validFrom"].replace("Z", "+00:00"))
    assert vc["nbf"] == int(valid_from.timestamp()) and valid_from.microsecond == 0
    assert vc["sub"] == vc["credentialSubject"]["id"]
    profile = json.loads(fetch(vc["issuer"]["id"]))
    assert profile["id"] == vc["issuer"]["id"] and "Profile" in profile["type"], profile
    return {"issuer": profile["name"], "subject": vc["sub"]}


def openbadgeslib_check():
    pem = key_of(token).public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        OB3Verifier(pem).verify(token, check_status=True, verify_status_list=True, download=fetch)
        return "valid"
    except OB3VerificationError as error:
        said = str(error)
        return "revoked" if "is set at index" in said else "invalid: " + said


print(json.dumps({"pyjwt": pyjwt_check(), "openbadgeslib": openbadgeslib_check()}))
