"""Google's signing keys and the documents that publish them: the OpenID Connect
discovery document, the JWKS (``oauth2/v3/certs``) and the X.509 certificates
(``oauth2/v1/certs``).

Real Google signs every ``id_token`` RS256 with keys it rotates and publishes twice:
as a JSON Web Key Set at ``https://www.googleapis.com/oauth2/v3/certs`` (the
discovery document's ``jwks_uri``) and as ``{kid: PEM certificate}`` at
``https://www.googleapis.com/oauth2/v1/certs``, the URL google-auth's
``google.oauth2.id_token.verify_oauth2_token`` fetches. The fake does the same with
one 2048-bit key of its own per process (not LinkedIn's: two providers never share
a key), so a client verifies a fake id_token exactly as it verifies a real one.

The discovery document is Google's
(developers.google.com/identity/openid-connect/reference#discovery-document) less
what the fake does not serve: the device flow and the implicit response types.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from quart import Response

from ..core.signing import RsaKey
from ._http import json_response

ISSUER = "https://accounts.google.com"
JWKS_URI = "https://www.googleapis.com/oauth2/v3/certs"
#: The subject and issuer of Google's self-signed signing certificates.
CERT_NAME = "federated-signon.system.gserviceaccount.com"
#: Google's certificates are valid about two weeks; the fake's a little longer than a
#: test session could run on the wall clock.
CERT_VALIDITY = timedelta(days=14)
#: How long a client may cache the keys (Google answers ``Cache-Control: public,
#: max-age=…`` of several hours; clients such as google-auth honour it).
CACHE = "public, max-age=21600, must-revalidate, no-transform"


@cache
def signing_key() -> RsaKey:
    """Google's signing key in this process, made on first use."""
    return RsaKey.generate()


@cache
def certificate_pem() -> str:
    """The key's self-signed X.509 certificate, PEM, as ``oauth2/v1/certs`` lists it."""
    # Imported here: cryptography costs ~25 ms, which a run that signs nothing skips.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = signing_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERT_NAME)])
    start = datetime.now(UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.private.public_key())
        .serial_number(int(key.kid[:16], 16))
        .not_valid_before(start)
        .not_valid_after(start + CERT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key.private, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _cached(response: Response) -> Response:
    response.headers["Cache-Control"] = CACHE
    response.headers.pop("Pragma", None)
    return response


async def jwks() -> Response:
    """``GET www.googleapis.com/oauth2/v3/certs``: the JWKS."""
    return _cached(json_response(signing_key().jwks()))


async def x509_certs() -> Response:
    """``GET www.googleapis.com/oauth2/v1/certs``: ``{kid: PEM certificate}``."""
    return _cached(json_response({signing_key().kid: certificate_pem()}))


DISCOVERY = {
    "issuer": ISSUER,
    "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_endpoint": "https://oauth2.googleapis.com/token",
    "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
    "revocation_endpoint": "https://oauth2.googleapis.com/revoke",
    "jwks_uri": JWKS_URI,
    "response_types_supported": ["code"],
    "response_modes_supported": ["query"],
    "subject_types_supported": ["public"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "scopes_supported": ["openid", "email", "profile"],
    "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
    "claims_supported": [
        "aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss",
        "name", "picture", "sub",
    ],
    "code_challenge_methods_supported": ["plain", "S256"],
    "grant_types_supported": ["authorization_code", "refresh_token"],
}  # fmt: skip


async def discovery() -> Response:
    """``GET accounts.google.com/.well-known/openid-configuration``."""
    return _cached(json_response(DISCOVERY))
