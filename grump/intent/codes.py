"""Questions about every token of a paragraph at once, answered from code bytes.

Each token carries two code bytes (``TokenInfo.code``): its ``CODE_*`` bits,
and its pair bits (see ``pair_bits``). A paragraph's codes are joined in one C
call; ``bytes.translate`` then turns them into a 0/1 byte per token for any set
of bits, which ``count`` and ``find`` scan at C speed. Each such question costs
a few C calls, where a Python loop over a paragraph's tokens (or even a ``map``
of an attribute getter) costs microseconds on slow interpreters.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Final, Protocol

CODE_HOT: Final = 1  # names a label on its own, or is "clone" ("a clone of ...")
CODE_SCOPE: Final = 1 << 1  # opens or closes a negation scope: negators, "but", clause breaks
CODE_ROLE: Final = 1 << 2  # a person noun, "as", a management verb or an app noun
CODE_CONTENT: Final = 1 << 3  # carries meaning (not a stopword or number)
CODE_KNOWN: Final = 1 << 4  # a content word grump understands without a label
# Needs the full matching pass: a negator (forwards or from behind) or a clone word.
CODE_CAREFUL: Final = 1 << 5
CODE_BLOCKED: Final = 1 << 6  # names nothing on its own, and stops other phrases using it

# Pair bits: the low four say which buckets the words that may follow a word (in a
# longer phrase) fall in, the high four (one of them) the bucket of the word itself.
_BUCKETS: Final = 4
_NONZERO: Final = bytes(1 if code else 0 for code in range(256))
_CODE: Final = attrgetter("code")


class _Coded(Protocol):
    @property
    def code(self) -> bytes: ...


def pair_bits(pairs: Iterable[tuple[str, str]], common: frozenset[str]) -> dict[str, int]:
    """Key -> pair bits, for the first two keys of every longer phrase.

    A token may start a phrase only where the next token's bucket is among its
    followers' buckets: a Bloom filter over pairs. Common words follow nearly any
    word, so they get a bucket of their own; the rest spread over the others by
    a stable hash. On typical paragraphs that leaves under two false candidates,
    against about five with a single bucket.
    """
    bits: dict[str, int] = {}
    for first, second in pairs:
        bucket = 0 if second in common else 1 + zlib.crc32(second.encode()) % (_BUCKETS - 1)
        bits[first] = bits.get(first, 0) | 1 << bucket
        bits[second] = bits.get(second, 0) | 1 << (bucket + _BUCKETS)
    return bits


def codes_of(infos: Sequence[_Coded]) -> tuple[bytes, bytes]:
    """(CODE_* bits, pair bits): one byte per token each."""
    joined = b"".join(map(_CODE, infos))
    return joined[0::2], joined[1::2]


class _Tables(dict[int, bytes]):
    """bits -> translate table giving 1 for a code with any of those bits, else 0.

    Made on first use; a dict lookup is cheaper than a cached function call.
    """

    def __missing__(self, bits: int) -> bytes:
        table = bytes(1 if code & bits else 0 for code in range(256))
        self[bits] = table
        return table


_TABLES: Final = _Tables()


def lane(codes: bytes, bits: int) -> bytes:
    """Per token, 1 if its code has any of ``bits``, else 0."""
    return codes.translate(_TABLES[bits])


def count(codes: bytes, bits: int) -> int:
    """How many tokens have any of ``bits``."""
    return codes.translate(_TABLES[bits]).count(1)


def positions(codes: bytes, bits: int) -> list[int]:
    """The positions of the tokens with any of ``bits``, in order."""
    return ones(codes.translate(_TABLES[bits]))


def ones(flags: bytes | bytearray) -> list[int]:
    """The positions of the 1 bytes of a lane."""
    found: list[int] = []
    i = flags.find(1)
    while i >= 0:
        found.append(i)
        i = flags.find(1, i + 1)
    return found


def pair_candidates(pair_codes: bytes) -> list[int]:
    """Positions i where token i may lead a longer phrase that token i + 1 continues.

    The pair bytes become one integer (token i in byte i), so a shift by a byte and
    a half lines the high nibble of each token's successor up with its own low
    nibble, and one ``&`` tests every pair. A superset of where a phrase of two
    words or more starts: the caller checks the actual keys.
    """
    pairs = int.from_bytes(pair_codes, "little")
    low_nibbles = int.from_bytes(b"\x0f" * len(pair_codes), "little")
    both = pairs & (pairs >> 12) & low_nibbles
    if not both:
        return []
    return ones(both.to_bytes(len(pair_codes), "little").translate(_NONZERO))
