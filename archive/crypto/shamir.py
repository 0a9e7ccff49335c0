"""Shamir's secret sharing in the form of `ssss` (B. Poettering's ssss 0.5, Debian package `ssss`).

Shares made here are combined by `ssss-combine -t K` and shares made by `ssss-split` are combined
here, so that heirs can recover the recovery code in 2045 with a tool packaged by Debian and no
arkeep (docs/RECOVERY.md). Written from the scheme as ssss documents and behaves, tested against
the real `ssss-split` and `ssss-combine` (tests/archive/test_shamir.py).

The scheme, for a secret of B bytes (8B bits, 8 <= 8B <= 1024, a multiple of 8):

- Field GF(2^d), d = 8B. An element is an integer whose bit j is the coefficient of a^j; the
  modulus is the irreducible pentanomial x^d + x^k3 + x^k2 + x^k1 + 1 with k3 > k2 > k1 > 0
  smallest, compared k3 first, then k2, then k1 (found here by testing irreducibility, not
  from a table).
- The secret's bytes, read big-endian, are one element s. With diffusion (ssss's default since
  0.2, for d >= 64), s is first put through a fixed keyless permutation made of XTEA blocks
  (`_diffuse`); it hides nothing, it only spreads each bit of the secret over the whole element.
- f(y) = s + c1 y + ... + c(K-1) y^(K-1) with random c, and share i (i = 1..N, the element whose
  integer is i) is f(i) + i^K: ssss adds that redundant i^K term, which combining removes.
- A share is printed `[TOKEN-]I-HEX`: I in decimal, zero-padded to the width of N, and HEX the
  element in d/4 lower-case hex digits.

Any K shares give s by Lagrange interpolation at 0; fewer give every secret with equal
probability (the random coefficients are uniform), which is the point of the scheme.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache

from archive.errors import UsageError

MAX_BITS = 1024
_MASK32 = 0xFFFFFFFF
_DELTA = 0x9E3779B9


# -- GF(2)[x] and GF(2^d) ---------------------------------------------------------------------

def _clmul(a: int, b: int) -> int:
    """Carry-less product of two polynomials over GF(2)."""
    out = 0
    while b:
        if b & 1:
            out ^= a
        a <<= 1
        b >>= 1
    return out


def _polymod(a: int, m: int) -> int:
    dm = m.bit_length()
    while a.bit_length() >= dm:
        a ^= m << (a.bit_length() - dm)
    return a


def _polygcd(a: int, b: int) -> int:
    while b:
        a, b = b, _polymod(a, b)
    return a


def _prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while p * p <= n:
        if n % p == 0:
            out.append(p)
            while n % p == 0:
                n //= p
        p += 1
    return out + ([n] if n > 1 else [])


def _x_to_2_to_the(k: int, m: int) -> int:
    """x^(2^k) mod m, by squaring k times."""
    r = 0b10
    for _ in range(k):
        r = _polymod(_clmul(r, r), m)
    return r


def is_irreducible(m: int) -> bool:
    """Rabin's test for a polynomial over GF(2) of degree d: x^(2^d) = x mod m, and for each
    prime p dividing d, gcd(x^(2^(d/p)) - x, m) = 1."""
    d = m.bit_length() - 1
    if d < 1 or _x_to_2_to_the(d, m) != 0b10:
        return False
    return all(_polygcd(_x_to_2_to_the(d // p, m) ^ 0b10, m) == 1 for p in _prime_factors(d))


@cache
def modulus(bits: int) -> int:
    """The pentanomial ssss uses for GF(2^bits) (the smallest irreducible one, as above)."""
    if not (8 <= bits <= MAX_BITS and bits % 8 == 0):
        raise ValueError("a field of 8 to 1024 bits, a multiple of 8")
    for k3 in range(3, bits):
        for k2 in range(2, k3):
            for k1 in range(1, k2):
                m = (1 << bits) | (1 << k3) | (1 << k2) | (1 << k1) | 1
                if is_irreducible(m):
                    return m
    raise AssertionError("no irreducible pentanomial")  # there is one for every such degree


def _mul(a: int, b: int, m: int) -> int:
    return _polymod(_clmul(a, b), m)


def _inverse(a: int, m: int) -> int:
    """a^-1 in GF(2)[x]/m by the extended Euclidean algorithm."""
    if a == 0:
        raise ZeroDivisionError
    r0, r1, s0, s1 = m, a, 0, 1
    while r1 != 1:
        shift = r0.bit_length() - r1.bit_length()
        if shift < 0:
            r0, r1, s0, s1 = r1, r0, s1, s0
            continue
        r0 ^= r1 << shift
        s0 ^= s1 << shift
    return _polymod(s1, m)


# -- ssss's diffusion layer -------------------------------------------------------------------

def _xtea_forward(v0: int, v1: int) -> tuple[int, int]:
    total = 0
    for _ in range(32):
        v0 = (v0 + ((((v1 << 4) ^ (v1 >> 5)) + v1) ^ total)) & _MASK32
        total = (total + _DELTA) & _MASK32
        v1 = (v1 + ((((v0 << 4) ^ (v0 >> 5)) + v0) ^ total)) & _MASK32
    return v0, v1


def _xtea_backward(v0: int, v1: int) -> tuple[int, int]:
    total = (_DELTA * 32) & _MASK32
    for _ in range(32):
        v1 = (v1 - ((((v0 << 4) ^ (v0 >> 5)) + v0) ^ total)) & _MASK32
        total = (total - _DELTA) & _MASK32
        v0 = (v0 - ((((v1 << 4) ^ (v1 >> 5)) + v1) ^ total)) & _MASK32
    return v0, v1


def _to_slices(x: int, bits: int) -> bytearray:
    """The element as ssss's diffusion sees it: 16-bit words, least significant word first,
    each word's bytes big-endian; for a width of 8 mod 16 the top byte moves down one place so
    that exactly bits/8 bytes carry the element."""
    words = (bits + 8) // 16
    buf = bytearray()
    for w in range(words):
        buf += ((x >> (16 * w)) & 0xFFFF).to_bytes(2, "big")
    if bits % 16 == 8:
        buf[bits // 8 - 1] = buf[bits // 8]
    return buf[:bits // 8]


def _from_slices(buf: bytearray, bits: int) -> int:
    full = bytearray(buf) + bytearray((bits + 8) // 16 * 2 - len(buf))
    if bits % 16 == 8:
        full[bits // 8] = full[bits // 8 - 1]
        full[bits // 8 - 1] = 0
    return sum(int.from_bytes(full[2 * w:2 * w + 2], "big") << (16 * w)
               for w in range(len(full) // 2))


def _diffuse(x: int, bits: int, forward: bool) -> int:
    """ssss's keyless permutation of an element (40 passes of XTEA over overlapping 8-byte
    windows, two bytes apart, wrapping round); `forward` before splitting, backward after
    combining. Only for elements of 64 bits or more."""
    data = _to_slices(x, bits)
    n = bits // 8
    starts = range(0, 40 * n, 2) if forward else range(40 * n - 2, -1, -2)
    step = _xtea_forward if forward else _xtea_backward
    for idx in starts:
        pos = [(idx + j) % n for j in range(8)]
        v0 = int.from_bytes(bytes(data[p] for p in pos[:4]), "big")
        v1 = int.from_bytes(bytes(data[p] for p in pos[4:]), "big")
        v0, v1 = step(v0, v1)
        for p, byte in zip(pos, v0.to_bytes(4, "big") + v1.to_bytes(4, "big"), strict=True):
            data[p] = byte
    return _from_slices(data, bits)


# -- splitting and combining ------------------------------------------------------------------

@dataclass(frozen=True)
class Share:
    """One share: its index (the x at which it was taken), its value, the field width."""

    index: int
    value: int
    bits: int
    token: str = ""

    def text(self, width: int = 1) -> str:
        head = f"{self.token}-" if self.token else ""
        return f"{head}{self.index:0{width}d}-{self.value:0{self.bits // 4}x}"


_TOKEN = re.compile(r"[^\s-]{1,128}")
_SHARE = re.compile(r"(?:([^\s-]{1,128})-)?(\d{1,4})-([0-9a-fA-F]+)")


def split(secret: bytes, threshold: int, count: int, token: str = "",
          diffusion: bool = True, rand: bytes | None = None) -> list[Share]:
    """`count` shares of `secret`, any `threshold` of which give it back, as `ssss-split -t
    threshold -n count [-w token]` makes them for an ASCII secret. `rand` replaces os.urandom for
    the (threshold - 1) coefficients (known-answer tests only)."""
    bits = 8 * len(secret)
    if not (8 <= bits <= MAX_BITS):
        raise ValueError("a secret of 1 to 128 bytes")
    if not (2 <= threshold <= count <= 255):
        raise UsageError("shares: 2 <= threshold <= number of shares <= 255")
    if token and not _TOKEN.fullmatch(token):
        raise ValueError("a token has no '-' and no space")
    m = modulus(bits)
    s = int.from_bytes(secret, "big")
    if diffusion and bits >= 64:
        s = _diffuse(s, bits, forward=True)
    width = bits // 8
    rand = os.urandom(width * (threshold - 1)) if rand is None else rand
    coeffs = [s] + [int.from_bytes(rand[i * width:(i + 1) * width], "big") for i in range(threshold - 1)]
    shares = []
    for i in range(1, count + 1):
        y = i                                 # ssss's redundant i^K term, then Horner
        for c in reversed(coeffs[1:]):
            y = _mul(y ^ c, i, m)
        shares.append(Share(i, y ^ coeffs[0], bits, token))
    return shares


def parse_share(text: str) -> Share:
    """A share line as ssss prints it (`[TOKEN-]I-HEX`), spaces around it ignored."""
    found = _SHARE.fullmatch(text.strip())
    if not found or int(found.group(2)) == 0:
        raise UsageError("that is not a share: expect a line like arkeep.1a2b…-3-9f0c… "
                         "as printed on a recovery sheet")
    hexpart = found.group(3)
    bits = 4 * len(hexpart)
    if not (8 <= bits <= MAX_BITS and bits % 8 == 0):
        raise UsageError("that share has an impossible length (damaged, or mistyped?)")
    return Share(int(found.group(2)), int(hexpart, 16), bits, found.group(1) or "")


def combine(shares: list[Share], threshold: int, diffusion: bool = True) -> bytes:
    """The secret a set of shares made with `threshold` was taken of, from `threshold` of them,
    as `ssss-combine -t threshold` does. Told a threshold lower than the set's, the result is some
    other value: nothing here can tell (the caller checks it against the key id)."""
    if threshold < 2:
        raise UsageError("at least two shares are needed")
    if len(shares) < threshold:
        raise UsageError(f"{len(shares)} share(s) given; {threshold} are needed")
    shares = shares[:threshold]
    bits = shares[0].bits
    if any(s.bits != bits for s in shares):
        raise UsageError("the shares have different lengths: they are not of one set")
    if len({s.index for s in shares}) != len(shares):
        raise UsageError("a share was given twice (two shares with the same number)")
    m = modulus(bits)
    k = len(shares)
    points = []
    for s in shares:
        xk = 1
        for _ in range(k):
            xk = _mul(xk, s.index, m)
        points.append((s.index, s.value ^ xk))       # remove the i^K term
    secret = 0
    for j, (xj, yj) in enumerate(points):
        num, den = 1, 1
        for i, (xi, _) in enumerate(points):
            if i != j:
                num = _mul(num, xi, m)               # (0 - xi) = xi in characteristic 2
                den = _mul(den, xi ^ xj, m)
        secret ^= _mul(yj, _mul(num, _inverse(den, m), m), m)
    if diffusion and bits >= 64:
        secret = _diffuse(secret, bits, forward=False)
    return secret.to_bytes(bits // 8, "big")
