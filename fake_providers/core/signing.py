"""RS256 JSON Web Tokens and the JWKS that verifies them, for providers that sign their
OpenID Connect ``id_token`` with a published key (LinkedIn; Google could too).

Real providers sign with RSA keys they rotate and publish as a JSON Web Key Set, so a
client verifies an id_token by fetching the JWKS and matching the header's ``kid``.
The fake does the same with one 2048-bit key per process (:func:`process_key`),
generated on first use: a client that verifies against the served JWKS works as it
does against the real provider, and no secret has to be shared out of band. Tokens
signed before a restart stop verifying, as after a real key rotation.

Pure Python on ``cryptography`` (already installed with ``trustme``); no HTTP here.
``cryptography`` is imported where a key is made or used (~25 ms and 130 modules): a
scenario whose providers sign nothing never loads it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["RsaKey", "b64url", "b64url_decode", "process_key"]

ALG = "RS256"


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    """The inverse of :func:`b64url`; ``ValueError`` for text that is not base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _segment(part: dict[str, Any]) -> str:
    return b64url(json.dumps(part, separators=(",", ":")).encode())


@dataclass(frozen=True)
class RsaKey:
    """An RSA signing key and its key id (40 hex digits, the shape LinkedIn's have)."""

    private: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def generate(cls) -> RsaKey:
        from cryptography.hazmat.primitives.asymmetric import rsa

        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        n = private.public_key().public_numbers().n
        kid = hashlib.sha1(n.to_bytes(256, "big"), usedforsecurity=False).hexdigest()
        return cls(private, kid)

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK (RFC 7517), as a JWKS lists it."""
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "e": _uint(numbers.e),
            "use": "sig",
            "kid": self.kid,
            "alg": ALG,
            "n": _uint(numbers.n),
        }

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JSON Web Key Set that verifies this key's tokens."""
        return {"keys": [self.public_jwk()]}

    def sign(self, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
        """A compact JWS of ``claims`` signed RS256; ``header`` adds to ``alg`` and ``kid``."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        head = {"alg": ALG, "kid": self.kid, **(header or {})}
        signing = f"{_segment(head)}.{_segment(claims)}"
        signature = self.private.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{b64url(signature)}"

    def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The header and claims of a token this key signed, else ``None`` (expiry and
        audience are the caller's business)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError:
            return None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return None
        if header.get("alg") != ALG or header.get("kid") != self.kid:
            return None
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signing = f"{parts[0]}.{parts[1]}".encode()
        try:
            self.private.public_key().verify(
                signature, signing, padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return None
        return header, claims


@cache
def process_key() -> RsaKey:
    """This process's signing key, made on first use and kept until it exits."""
    return RsaKey.generate()
