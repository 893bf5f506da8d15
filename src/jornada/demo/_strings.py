"""Vectorised building blocks for the generator's identifiers: bijective scramblers
(so distinct inputs give distinct ids, with no bookkeeping across chunks) and
fixed-width string columns built straight from bytes."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_HEX_LOWER = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_UPPER = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
_MASK48 = np.uint64((1 << 48) - 1)
_MASK32 = np.uint64((1 << 32) - 1)


def mix64(values: U64) -> U64:
    """SplitMix64's finaliser: a bijection of the 64-bit integers."""
    z = values.copy()
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def mix48(values: U64) -> U64:
    """A bijection of the 48-bit integers (inputs must be below 2**48)."""
    z = (values * np.uint64(0x9E3779B97F4B)) & _MASK48
    z ^= z >> np.uint64(24)
    z = (z * np.uint64(0xC2B2AE3D27D5)) & _MASK48
    z ^= z >> np.uint64(21)
    return z


def mix32(values: U64) -> U64:
    """A bijection of the 32-bit integers (inputs must be below 2**32)."""
    z = (values * np.uint64(0x85EBCA6B)) & _MASK32
    z ^= z >> np.uint64(16)
    z = (z * np.uint64(0xC2B2AE35)) & _MASK32
    z ^= z >> np.uint64(13)
    return z


def permute_mod(values: I64, modulus: int | I64, salt: int) -> I64:
    """A bijection of ``range(modulus)``: an affine map whose multiplier (a prime) is
    coprime to every modulus used here (products of 2s and 5s), so inputs distinct
    modulo ``modulus`` stay distinct. Moduli up to 1e10 keep the product in int64."""
    multiplier = 7_919_003
    result: I64 = (values % modulus * multiplier + salt % modulus) % modulus
    return result


def _from_matrix(matrix: npt.NDArray[np.uint8]) -> Any:
    """A pyarrow string array whose i-th value is the bytes of ``matrix[i]``."""
    rows, width = matrix.shape
    offsets = np.arange(rows + 1, dtype=np.int32) * np.int32(width)
    data = np.ascontiguousarray(matrix)
    return pa.Array.from_buffers(
        pa.string(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def hex_strings(prefix: str, values: U64, width: int, *, upper: bool = False) -> Any:
    """``prefix`` followed by the low ``width`` hexadecimal digits of each value."""
    head = prefix.encode("ascii")
    matrix = np.empty((values.size, len(head) + width), dtype=np.uint8)
    matrix[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    digits = _HEX_UPPER if upper else _HEX_LOWER
    for position in range(width):
        shift = np.uint64(4 * (width - 1 - position))
        matrix[:, len(head) + position] = digits[
            ((values >> shift) & np.uint64(15)).astype(np.intp)
        ]
    return _from_matrix(matrix)


def decimal_strings(prefix: str, values: I64, width: int) -> Any:
    """``prefix`` followed by each value zero-padded to ``width`` digits."""
    head = prefix.encode("ascii")
    matrix = np.empty((values.size, len(head) + width), dtype=np.uint8)
    matrix[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    rest = values.copy()
    for position in range(width - 1, -1, -1):
        matrix[:, len(head) + position] = (rest % 10 + 48).astype(np.uint8)
        rest //= 10
    return _from_matrix(matrix)


def _put_digits(matrix: npt.NDArray[np.uint8], column: int, values: I64, width: int) -> None:
    rest = values.copy()
    for position in range(column + width - 1, column - 1, -1):
        matrix[:, position] = (rest % 10 + 48).astype(np.uint8)
        rest //= 10


def iso_timestamps(local_ms: I64, suffixes: tuple[str, ...], suffix_codes: I64) -> Any:
    """``YYYY-MM-DDTHH:MM:SS.mmm`` for local times (milliseconds since the epoch of
    the local clock) followed by ``suffixes[code]`` (all of one length, e.g. an offset
    ``-03:00``). Years 0001-9999."""
    day_ms = 86_400_000
    days, in_day = np.divmod(local_ms, day_ms)
    # civil date from a day number (H. Hinnant's algorithm; valid for every era)
    z = days + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    tail = np.frombuffer("".join(suffixes).encode("ascii"), dtype=np.uint8)
    width = tail.size // max(len(suffixes), 1)
    matrix = np.empty((local_ms.size, 23 + width), dtype=np.uint8)
    for column, char in ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, ".")):
        matrix[:, column] = ord(char)
    _put_digits(matrix, 0, year, 4)
    _put_digits(matrix, 5, month, 2)
    _put_digits(matrix, 8, day, 2)
    _put_digits(matrix, 11, in_day // 3_600_000, 2)
    _put_digits(matrix, 14, in_day // 60_000 % 60, 2)
    _put_digits(matrix, 17, in_day // 1_000 % 60, 2)
    _put_digits(matrix, 20, in_day % 1_000, 3)
    if width:
        matrix[:, 23:] = tail.reshape(len(suffixes), width)[suffix_codes]
    return _from_matrix(matrix)
