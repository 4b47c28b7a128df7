#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generates the JWT attack catalogue (docs/auth.md#tests) used by tests/unit/test_jwt.c.

Writes tests/vectors/jwt_attacks.json (the cases) and tests/vectors/jwt_attacks_jwks.json (the
PUBLIC key set they are validated against). Every private key is made here, at generation
time, used to sign, and thrown away: nothing secret is committed. Re-running produces new keys
and new tokens with the same meaning; commit both files together.

Each case: name, description, token, expect_status (capv_status_name) and expect_reason (the
stable reason of include/capverify/jwt.h). Cases with expect_reason "ok" are controls: they
prove that the same keys and configuration accept a good token, so a rejection elsewhere is
caused by the attack and not by a broken set-up.

Needs python3-cryptography (Debian package); not needed to run the tests.
"""
import base64
import hashlib
import hmac
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

NOW = 1750000000  # the fixed clock of the test (2025-06-15T15:06:40Z)
LEEWAY = 60
MAX_LIFETIME = 86400
ISS = "https://idp.example.test"
AUD = "capv-api"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_int(v: int, length: int | None = None) -> str:
    n = length or (v.bit_length() + 7) // 8
    return b64u(v.to_bytes(n, "big"))


def enc_json(obj) -> str:
    if isinstance(obj, (bytes, bytearray)):
        return b64u(bytes(obj))
    if isinstance(obj, str):
        return b64u(obj.encode())
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class Keys:
    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rsa_rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rsa_weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ed = ed25519.Ed25519PrivateKey.generate()
        # the attacker's keys: never published
        self.evil_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.evil_ec = ec.generate_private_key(ec.SECP256R1())
        self.evil_ed = ed25519.Ed25519PrivateKey.generate()


def rsa_jwk(key, kid, **extra):
    pub = key.public_key().public_numbers()
    j = {"kty": "RSA", "kid": kid, "use": "sig", "n": b64u_int(pub.n), "e": b64u_int(pub.e)}
    j.update(extra)
    return j


def ec_jwk(key, kid):
    pub = key.public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
            "x": b64u_int(pub.x, 32), "y": b64u_int(pub.y, 32)}


def ed_jwk(key, kid=None):
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    j = {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
    if kid:
        j["kid"] = kid
    return j


def sign(alg, key, data: bytes) -> bytes:
    if alg == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if alg == "PS256":
        return key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                        hashes.SHA256())
    if alg == "ES256":
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "EdDSA":
        return key.sign(data)
    if alg.startswith("HS"):
        h = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        return hmac.new(key, data, h).digest()
    raise ValueError(alg)


def claims(**over):
    c = {"iss": ISS, "sub": "client-42", "aud": AUD, "iat": NOW - 10, "exp": NOW + 600,
         "scope": "verify:read registry:write", "client_id": "client-42"}
    for k, v in over.items():
        if v is DROP:
            c.pop(k, None)
        else:
            c[k] = v
    return c


DROP = object()


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "vectors")
    k = Keys()
    signer = {"RS256": (k.rsa, "rsa-1"), "PS256": (k.rsa, "rsa-1"),
              "ES256": (k.ec, "ec-1"), "EdDSA": (k.ed, "ed-1")}
    jwks = {"keys": [
        rsa_jwk(k.rsa, "rsa-1"),
        rsa_jwk(k.rsa_rs, "rsa-rs", alg="RS256"),
        ec_jwk(k.ec, "ec-1"),
        ed_jwk(k.ed, "ed-1"),
        rsa_jwk(k.rsa_weak, "rsa-weak"),  # 1024 bits: ignored by the parser
        {"kty": "oct", "kid": "hmac-1", "k": b64u(os.urandom(32))},  # ignored: symmetric
    ]}
    cases = []

    def add(name, desc, token, reason):
        status = {
            "ok": "ok", "malformed": "rejected", "token_too_large": "rejected",
            "crit_unsupported": "rejected", "alg_not_allowed": "alg_not_allowed",
            "key_alg_mismatch": "alg_not_allowed", "unknown_kid": "untrusted",
            "bad_signature": "signature_invalid", "expired": "expired",
            "not_yet_valid": "not_yet_valid", "iat_in_future": "not_yet_valid",
            "missing_exp": "invalid_claim", "bad_claim": "invalid_claim",
            "bad_issuer": "invalid_claim", "bad_audience": "invalid_claim",
            "lifetime_too_long": "invalid_claim",
        }[reason]
        cases.append({"name": name, "description": desc, "token": token,
                      "expect_status": status, "expect_reason": reason})

    def raw(header_seg: str, payload_seg: str, sig: bytes | str) -> str:
        s = sig if isinstance(sig, str) else b64u(sig)
        return f"{header_seg}.{payload_seg}.{s}"

    def tok(alg="RS256", kid="default", payload=None, header_extra=None, key=None,
            header=None, payload_raw=None):
        if kid == "default":
            kid = signer[alg][1] if alg in signer else None
        h = header if header is not None else {"alg": alg, "typ": "JWT"}
        if header is None and kid is not None:
            h["kid"] = kid
        if header_extra:
            h.update(header_extra)
        hs = enc_json(h) if not isinstance(h, str) else b64u(h.encode())
        ps = enc_json(payload_raw) if payload_raw is not None else enc_json(
            payload if payload is not None else claims())
        data = f"{hs}.{ps}".encode()
        sk = key if key is not None else signer[alg][0]
        return raw(hs, ps, sign(alg, sk, data))

    # ---- controls -------------------------------------------------------------------------
    for alg in ("RS256", "PS256", "ES256", "EdDSA"):
        add(f"control_{alg}", f"a well-formed {alg} token signed by the published key",
            tok(alg), "ok")
    add("control_aud_array_match", "aud array containing the configured audience",
        tok(payload=claims(aud=["other", AUD])), "ok")
    add("control_scp_array", "scopes as an scp array", tok(payload=claims(scope=DROP,
        scp=["verify:read"])), "ok")
    add("control_exp_leeway_inside", "exp = now - leeway + 1: still inside the leeway",
        tok(payload=claims(exp=NOW - LEEWAY + 1, iat=NOW - 100)), "ok")
    add("control_nbf_leeway_inside", "nbf = now + leeway: inside the leeway",
        tok(payload=claims(nbf=NOW + LEEWAY)), "ok")
    add("control_iat_leeway_inside", "iat = now + leeway: inside the leeway",
        tok(payload=claims(iat=NOW + LEEWAY)), "ok")
    add("control_eddsa_no_kid", "no kid, and exactly one key in the set can verify EdDSA",
        tok("EdDSA", kid=None), "ok")
    add("control_jku_ignored", "jku pointing elsewhere is ignored; our key signed it",
        tok(header_extra={"jku": "https://evil.example/jwks.json"}), "ok")

    # ---- algorithm attacks ----------------------------------------------------------------
    body = enc_json(claims())
    for a in ("none", "None", "NONE", "nOnE"):
        add(f"alg_{a}", f"alg \"{a}\" with an empty signature",
            raw(enc_json({"alg": a, "typ": "JWT"}), body, ""), "alg_not_allowed")
    good = tok()
    add("alg_none_with_signature", "alg none keeping a real RS256 signature",
        raw(enc_json({"alg": "none", "kid": "rsa-1"}), good.split(".")[1], good.split(".")[2]),
        "alg_not_allowed")
    pem = k.rsa.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    add("hs256_rsa_pem_secret", "HS256 with the RSA public key PEM as HMAC secret (key confusion)",
        tok("HS256", kid="rsa-1", key=pem), "alg_not_allowed")
    nbytes = k.rsa.public_key().public_numbers().n.to_bytes(256, "big")
    add("hs256_rsa_modulus_secret", "HS256 with the RSA modulus bytes as HMAC secret",
        tok("HS256", kid="rsa-1", key=nbytes), "alg_not_allowed")
    add("hs384", "HS384 with the published oct key id", tok("HS384", kid="hmac-1",
        key=b"x" * 48), "alg_not_allowed")
    add("hs512", "HS512", tok("HS512", kid="hmac-1", key=b"x" * 64), "alg_not_allowed")
    add("alg_rs384", "RS384: not implemented, never allowed",
        raw(enc_json({"alg": "RS384", "kid": "rsa-1"}), body, b"\x01" * 256), "alg_not_allowed")
    add("alg_es512", "ES512", raw(enc_json({"alg": "ES512", "kid": "ec-1"}), body, b"\x01" * 132),
        "alg_not_allowed")
    add("alg_lowercase", "alg \"rs256\" (names are case-sensitive)",
        raw(enc_json({"alg": "rs256", "kid": "rsa-1"}), body, good.split(".")[2]),
        "alg_not_allowed")
    add("alg_trailing_space", "alg \"RS256 \"",
        raw(enc_json({"alg": "RS256 ", "kid": "rsa-1"}), body, good.split(".")[2]),
        "alg_not_allowed")
    add("alg_missing", "no alg header", raw(enc_json({"kid": "rsa-1"}), body, good.split(".")[2]),
        "malformed")
    add("alg_number", "alg is a number", raw(enc_json({"alg": 256, "kid": "rsa-1"}), body,
        good.split(".")[2]), "malformed")
    add("key_type_confusion_rs_on_ec", "RS256 token naming the EC key",
        tok("RS256", kid="ec-1"), "key_alg_mismatch")
    add("key_alg_binding_ps_on_rs_only", "PS256 token naming an RSA key whose JWK alg is RS256",
        tok("PS256", kid="rsa-rs", key=k.rsa_rs), "key_alg_mismatch")
    add("key_type_confusion_eddsa_on_rsa", "EdDSA token naming the RSA key",
        tok("EdDSA", kid="rsa-1"), "key_alg_mismatch")

    # ---- kid attacks ----------------------------------------------------------------------
    for name, kid in (("kid_path_traversal", "../../../../etc/passwd"),
                      ("kid_dev_null", "/dev/null"),
                      ("kid_sql_injection", "' OR '1'='1"),
                      ("kid_sql_drop", "rsa-1'; DROP TABLE keys; --"),
                      ("kid_url", "https://evil.example/key")):
        add(name, f"kid {kid!r} (only exact string matches are used)",
            tok(kid=kid, key=k.evil_rsa), "unknown_kid")
    add("kid_nul", "kid with a \\u0000 escape (strict JSON)",
        raw(b64u(b'{"alg":"RS256","kid":"rsa-1\\u0000x"}'), body, good.split(".")[2]),
        "malformed")
    add("kid_number", "kid is a number", raw(enc_json({"alg": "RS256", "kid": 1}), body,
        good.split(".")[2]), "malformed")
    add("kid_weak_key", "kid of a published 1024-bit RSA key (ignored by the parser)",
        tok(kid="rsa-weak", key=k.rsa_weak), "unknown_kid")
    add("no_kid_ambiguous", "no kid while two published RSA keys verify RS256",
        tok(kid=None), "unknown_kid")

    # ---- embedded / remote key headers ----------------------------------------------------
    add("jku_attacker", "jku to the attacker's JWKS, attacker kid and key",
        tok(kid="evil-1", key=k.evil_rsa, header_extra={"jku": "https://evil.example/jwks"}),
        "unknown_kid")
    add("jku_our_kid", "jku to the attacker's JWKS, our kid, attacker's signature",
        tok(key=k.evil_rsa, header_extra={"jku": "https://evil.example/jwks"}), "bad_signature")
    add("x5u_our_kid", "x5u to the attacker's certificate, our kid, attacker's signature",
        tok(key=k.evil_rsa, header_extra={"x5u": "https://evil.example/cert.pem"}),
        "bad_signature")
    add("jwk_embedded_attacker_kid", "attacker's public key embedded in a jwk header",
        tok(kid="evil-1", key=k.evil_rsa, header_extra={"jwk": rsa_jwk(k.evil_rsa, "evil-1")}),
        "unknown_kid")
    add("jwk_embedded_our_kid", "attacker's key embedded as jwk under our kid",
        tok(key=k.evil_rsa, header_extra={"jwk": rsa_jwk(k.evil_rsa, "rsa-1")}),
        "bad_signature")
    add("jwk_embedded_ec", "attacker's EC key embedded as jwk, ES256, our EC kid",
        tok("ES256", key=k.evil_ec, header_extra={"jwk": ec_jwk(k.evil_ec, "ec-1")}),
        "bad_signature")
    add("x5c_embedded", "x5c chain header (ignored), attacker signature",
        tok(key=k.evil_rsa, header_extra={"x5c": [b64u(b"not a certificate")]}),
        "bad_signature")

    # ---- signature attacks ----------------------------------------------------------------
    es = tok("ES256").split(".")
    add("ecdsa_r_s_zero", "ES256 with r = s = 0 (CVE-2022-21449)", raw(es[0], es[1], b"\0" * 64),
        "bad_signature")
    add("ecdsa_r_zero", "ES256 with r = 0", raw(es[0], es[1], b"\0" * 32 +
        base64.urlsafe_b64decode(es[2] + "==")[32:]), "bad_signature")
    nb = P256_N.to_bytes(32, "big")
    add("ecdsa_r_s_n", "ES256 with r = s = n (the group order)", raw(es[0], es[1], nb + nb),
        "bad_signature")
    sig = base64.urlsafe_b64decode(es[2] + "==")
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    add("ecdsa_der", "ES256 signature in DER instead of r||s",
        raw(es[0], es[1], encode_dss_signature(r, s)), "bad_signature")
    add("ecdsa_truncated", "ES256 signature of 63 bytes", raw(es[0], es[1], sig[:63]),
        "bad_signature")
    add("ecdsa_high_s_plus_n", "ES256 with s + n (out of range)",
        raw(es[0], es[1], sig[:32] + (s + P256_N).to_bytes(33, "big")), "bad_signature")
    ed = tok("EdDSA").split(".")
    add("eddsa_zero", "EdDSA signature of zeros", raw(ed[0], ed[1], b"\0" * 64), "bad_signature")
    rs = good.split(".")
    add("rsa_zero", "RS256 signature of zeros", raw(rs[0], rs[1], b"\0" * 256), "bad_signature")
    add("rsa_short", "RS256 signature one byte short",
        raw(rs[0], rs[1], base64.urlsafe_b64decode(rs[2] + "==")[1:]), "bad_signature")
    tampered = enc_json(claims(sub="admin"))
    add("payload_swapped", "payload replaced, signature of the original",
        raw(rs[0], tampered, rs[2]), "bad_signature")
    add("signed_by_attacker", "RS256 by the attacker's key under our kid",
        tok(key=k.evil_rsa), "bad_signature")

    # ---- encoding ---------------------------------------------------------------------------
    add("b64_truncated", "header segment missing its last character (impossible length)",
        raw(rs[0][:-1], rs[1], rs[2]), "malformed")
    pad = (-len(rs[1])) % 4 or 4
    add("b64_padded", "payload segment with '=' padding",
        raw(rs[0], rs[1] + "=" * (pad if pad < 4 else 0) + ("==" if pad == 4 else ""), rs[2]),
        "malformed")
    add("b64_std_alphabet", "signature using the standard alphabet (+ /)",
        raw(rs[0], rs[1], rs[2].replace("-", "+").replace("_", "/")
            if ("-" in rs[2] or "_" in rs[2]) else rs[2][:-2] + "+/"), "malformed")
    hdr_bytes = base64.urlsafe_b64decode(rs[0] + "==")
    seg = b64u(hdr_bytes)
    bad_tail = seg
    if len(seg) % 4 == 2:  # one leftover byte: 4 unused bits
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        bad_tail = seg[:-1] + alphabet[alphabet.index(seg[-1]) | 1]
    elif len(seg) % 4 == 3:  # two leftover bytes: 2 unused bits
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        bad_tail = seg[:-1] + alphabet[alphabet.index(seg[-1]) | 1]
    if bad_tail == seg:  # header length is a multiple of 3: use a space-padded variant
        hdr2 = json.dumps({"alg": "RS256", "kid": "rsa-1"}, separators=(",", ":")).encode()
        seg = b64u(hdr2)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        bad_tail = seg[:-1] + alphabet[alphabet.index(seg[-1]) | 1]
    add("b64_noncanonical_bits", "header segment with non-zero unused trailing bits",
        raw(bad_tail, rs[1], rs[2]), "malformed")
    add("whitespace_inside", "a space inside the payload segment",
        raw(rs[0], rs[1][:10] + " " + rs[1][10:], rs[2]), "malformed")
    add("whitespace_around", "trailing newline after the token", good + "\n", "malformed")
    add("four_segments", "four dot-separated parts", good + ".e30", "malformed")
    add("jwe_five_segments", "a JWE-shaped token (five parts)",
        enc_json({"alg": "RSA-OAEP", "enc": "A256GCM"}) + ".a.b.c.d", "malformed")
    add("two_segments", "two parts only", f"{rs[0]}.{rs[1]}", "malformed")
    add("empty_signature", "RS256 with an empty signature", f"{rs[0]}.{rs[1]}.", "malformed")
    add("empty_token", "the empty string", "", "malformed")

    # ---- JSON -------------------------------------------------------------------------------
    add("dup_header_alg", "header with alg twice (RS256, then none)",
        raw(b64u(b'{"alg":"RS256","kid":"rsa-1","alg":"none"}'), body, ""), "malformed")
    dup_sub = b64u(('{"iss":"%s","sub":"client-42","sub":"admin","aud":"%s","exp":%d}'
                    % (ISS, AUD, NOW + 600)).encode())
    hs = enc_json({"alg": "RS256", "kid": "rsa-1"})
    add("dup_payload_sub", "signed claims with sub twice",
        raw(hs, dup_sub, sign("RS256", k.rsa, f"{hs}.{dup_sub}".encode())), "malformed")
    dup_exp = b64u(('{"iss":"%s","aud":"%s","exp":%d,"exp":%d}'
                    % (ISS, AUD, NOW - 1000, NOW + 600)).encode())
    add("dup_payload_exp", "signed claims with exp twice (expired, then valid)",
        raw(hs, dup_exp, sign("RS256", k.rsa, f"{hs}.{dup_exp}".encode())), "malformed")
    add("header_array", "header is a JSON array", raw(b64u(b'["RS256"]'), body, rs[2]),
        "malformed")
    add("header_deep", "header nested 100 levels",
        raw(b64u(b'{"alg":"RS256","x":' + b"[" * 100 + b"]" * 100 + b"}"), body, rs[2]),
        "malformed")
    add("payload_string", "signed payload that is a JSON string",
        tok(payload_raw='"hello"'), "malformed")
    add("payload_not_json", "signed payload that is not JSON", tok(payload_raw="exp=9999999999"),
        "malformed")
    bad_utf8 = b64u(b'{"iss":"' + ISS.encode() + b'","sub":"\xff\xfe","aud":"capv-api","exp":'
                    + str(NOW + 600).encode() + b"}")
    add("payload_bad_utf8", "signed claims with invalid UTF-8",
        raw(hs, bad_utf8, sign("RS256", k.rsa, f"{hs}.{bad_utf8}".encode())), "malformed")
    surrogate = b64u(('{"iss":"%s","sub":"\\ud800","aud":"%s","exp":%d}'
                      % (ISS, AUD, NOW + 600)).encode())
    add("payload_lone_surrogate", "signed claims with a lone surrogate escape",
        raw(hs, surrogate, sign("RS256", k.rsa, f"{hs}.{surrogate}".encode())), "malformed")

    # ---- crit ------------------------------------------------------------------------------
    add("crit_exp", "crit naming a claim we do not process as a header extension",
        tok(header_extra={"crit": ["exp"], "exp": NOW + 600}), "crit_unsupported")
    add("crit_b64", "crit b64=false (RFC 7797, not supported)",
        tok(header_extra={"crit": ["b64"], "b64": False}), "crit_unsupported")
    add("crit_empty", "crit as an empty array", tok(header_extra={"crit": []}), "malformed")

    # ---- time claims ------------------------------------------------------------------------
    add("exp_leeway_minus_1", "exp = now - leeway - 1", tok(payload=claims(
        exp=NOW - LEEWAY - 1, iat=NOW - 1000)), "expired")
    add("exp_leeway_exact", "exp = now - leeway (must be strictly before exp + leeway)",
        tok(payload=claims(exp=NOW - LEEWAY, iat=NOW - 1000)), "expired")
    add("nbf_leeway_plus_1", "nbf = now + leeway + 1", tok(payload=claims(nbf=NOW + LEEWAY + 1)),
        "not_yet_valid")
    add("iat_leeway_plus_1", "iat = now + leeway + 1", tok(payload=claims(iat=NOW + LEEWAY + 1)),
        "iat_in_future")
    add("exp_2_31", "exp = 2^31 (2038): beyond max_lifetime", tok(payload=claims(exp=2**31)),
        "lifetime_too_long")
    add("exp_2_32", "exp = 2^32: beyond max_lifetime", tok(payload=claims(exp=2**32)),
        "lifetime_too_long")
    add("exp_2_63", "exp = 2^63: not a representable NumericDate",
        tok(payload=claims(exp=2**63)), "bad_claim")
    add("exp_2_64", "exp = 2^64 (wraps to 0 in 64-bit unsigned)",
        tok(payload=claims(exp=2**64)), "bad_claim")
    add("exp_1e300", "exp = 1e300", tok(payload_raw=json.dumps(claims(exp=DROP))[:-1]
                                        + ',"exp":1e300}'), "bad_claim")
    add("exp_negative", "exp = -1", tok(payload=claims(exp=-1)), "bad_claim")
    add("exp_string", "exp as a string", tok(payload=claims(exp=str(NOW + 600))), "bad_claim")
    add("exp_null", "exp is null", tok(payload=claims(exp=None)), "bad_claim")
    add("exp_missing", "no exp claim", tok(payload=claims(exp=DROP)), "missing_exp")
    add("no_iat_long_lifetime", "no iat and exp beyond now + max_lifetime",
        tok(payload=claims(iat=DROP, exp=NOW + MAX_LIFETIME + LEEWAY + 1)), "lifetime_too_long")

    # ---- audience / issuer / other claims -------------------------------------------------
    add("aud_array_no_match", "aud array without the configured audience",
        tok(payload=claims(aud=["other-api", "capv-api-x"])), "bad_audience")
    add("aud_array_empty", "aud is an empty array", tok(payload=claims(aud=[])), "bad_audience")
    add("aud_missing", "no aud claim", tok(payload=claims(aud=DROP)), "bad_audience")
    add("aud_wrong", "aud is another API", tok(payload=claims(aud="other-api")), "bad_audience")
    add("aud_case", "aud differs in case", tok(payload=claims(aud="CAPV-API")), "bad_audience")
    add("aud_array_number", "aud array with a number", tok(payload=claims(aud=[AUD, 7])),
        "bad_claim")
    add("iss_wrong", "another issuer", tok(payload=claims(iss="https://evil.example")),
        "bad_issuer")
    add("iss_trailing_slash", "issuer with a trailing slash (exact match only)",
        tok(payload=claims(iss=ISS + "/")), "bad_issuer")
    add("iss_missing", "no iss claim", tok(payload=claims(iss=DROP)), "bad_issuer")
    add("sub_number", "sub is a number", tok(payload=claims(sub=42)), "bad_claim")
    add("scope_number", "scope is a number", tok(payload=claims(scope=7)), "bad_claim")

    # ---- size ------------------------------------------------------------------------------
    add("oversized", "a validly signed token above 16 KiB",
        tok(payload=claims(pad="A" * 13000)), "token_too_large")

    doc = {
        "description": "JWT attack catalogue (docs/auth.md#tests); generated by "
                       "tests/tools/gen_jwt_attacks.py with throwaway keys; validate against "
                       "jwt_attacks_jwks.json",
        "config": {"issuer": ISS, "audiences": [AUD], "leeway": LEEWAY,
                   "max_lifetime": MAX_LIFETIME, "now": NOW,
                   "algs": "RS256,PS256,ES256,EdDSA"},
        "cases": cases,
    }
    with open(os.path.join(out_dir, "jwt_attacks.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(os.path.join(out_dir, "jwt_attacks_jwks.json"), "w") as f:
        json.dump(jwks, f, indent=1)
        f.write("\n")
    attacks = sum(1 for c in cases if c["expect_reason"] != "ok")
    print(f"{len(cases)} cases ({attacks} attacks, {len(cases) - attacks} controls)")


if __name__ == "__main__":
    main()
