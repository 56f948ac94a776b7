"""Exact and near-duplicate detection: a hash of normalized text, and MinHash over token shingles + LSH.

MinHash uses multiply-shift hashing on 64-bit shingle hashes (numpy, wrapping uint64 arithmetic); the
permutation parameters come from a fixed seed so signatures agree across processes and runs.
"""

from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np

TOKEN = re.compile(r"\w+|[^\w\s]")
BLOCK = 4096  # shingles per block when taking minima, bounds memory to BLOCK x perms x 8 bytes
BAND_ROWS = 8  # rows per LSH band: with 128 perms -> 16 bands, P(candidate | J=0.85) ~ 0.99


def normalize(text: str) -> str:
    """Text with trailing whitespace and blank lines removed: the form compared for exact duplicates."""
    lines = (line.rstrip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def content_hash(text: str) -> str:
    """sha256 hex of the normalized text; also decides the train/val split."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


def _permutations(perms: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0x5EED)
    a = rng.integers(1, 2**63, size=perms, dtype=np.uint64) | np.uint64(1)  # odd multipliers
    b = rng.integers(0, 2**63, size=perms, dtype=np.uint64)
    return a, b


def token_ids(tokens: list[str]) -> np.ndarray:
    """A 32-bit id (crc32) per token, as uint64."""
    return np.fromiter((zlib.crc32(t.encode("utf-8")) for t in tokens), dtype=np.uint64, count=len(tokens))


def rolling_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit polynomial hash of every window of n consecutive ids (empty if there are fewer than n)."""
    count = len(ids) - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(count, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for j in range(n):
            h = h * prime + ids[j : j + count]
    return h


def shingle_hashes(text: str, shingle: int) -> np.ndarray:
    """Unique 64-bit hashes of the token shingles of `text` (empty when there are too few tokens)."""
    return np.unique(rolling_hashes(token_ids(TOKEN.findall(text)), shingle))


def minhash(text: str, perms: int, shingle: int) -> np.ndarray | None:
    """MinHash signature (uint32, length `perms`), or None for files too short to shingle."""
    hashes = shingle_hashes(text, shingle)
    if hashes.size == 0:
        return None
    a, b = _permutations(perms)
    signature = np.full(perms, np.iinfo(np.uint64).max, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, hashes.size, BLOCK):
            block = hashes[start : start + BLOCK, None]  # (S, 1)
            values = (block * a[None, :] + b[None, :]) >> np.uint64(32)  # (S, P)
            np.minimum(signature, values.min(axis=0), out=signature)
    return signature.astype(np.uint32)


class NearDuplicateIndex:
    """LSH over MinHash signatures; `add_if_new` keeps the first of every near-duplicate group."""

    def __init__(self, perms: int, threshold: float) -> None:
        self.threshold = threshold
        self.bands = perms // BAND_ROWS
        self.buckets: list[dict[bytes, list[int]]] = [{} for _ in range(self.bands)]
        self.signatures: list[np.ndarray] = []

    def _keys(self, signature: np.ndarray) -> list[bytes]:
        return [signature[i * BAND_ROWS : (i + 1) * BAND_ROWS].tobytes() for i in range(self.bands)]

    def find(self, signature: np.ndarray) -> int | None:
        """Id of a stored signature with estimated Jaccard >= threshold, or None."""
        seen: set[int] = set()
        for bucket, key in zip(self.buckets, self._keys(signature), strict=True):
            for other in bucket.get(key, ()):
                if other in seen:
                    continue
                seen.add(other)
                if float(np.mean(self.signatures[other] == signature)) >= self.threshold:
                    return other
        return None

    def add(self, signature: np.ndarray) -> int:
        ident = len(self.signatures)
        self.signatures.append(signature)
        for bucket, key in zip(self.buckets, self._keys(signature), strict=True):
            bucket.setdefault(key, []).append(ident)
        return ident

    def add_if_new(self, signature: np.ndarray) -> bool:
        """Store the signature and return True, unless a near duplicate is already stored."""
        if self.find(signature) is not None:
            return False
        self.add(signature)
        return True
