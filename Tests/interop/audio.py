"""G.711, WAV and prompt matching for the interop tests, in plain Python.

No audioop (removed in Python 3.13) and no numpy: prompts are matched by a coarse energy
envelope (10 ms blocks) and normalised cross-correlation, which survives G.711, jitter
buffers, resampling and packet loss concealment, yet tells different sentences apart.
"""
from __future__ import annotations

import math
import wave
from pathlib import Path

PROMPTS = Path(__file__).resolve().parents[2] / "Prompts"
LANGS = ("zh-CN", "en-US")


# --------------------------------------------------------------------------- G.711

def _ulaw_decode(u: int) -> int:
    u = ~u & 0xFF
    sign, exp, mant = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    s = (((mant << 3) + 0x84) << exp) - 0x84
    return -s if sign else s


def _alaw_decode(a: int) -> int:
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


ULAW_TABLE = [_ulaw_decode(i) for i in range(256)]
ALAW_TABLE = [_alaw_decode(i) for i in range(256)]


def ulaw_encode_sample(x: int) -> int:
    sign = 0x80 if x < 0 else 0
    x = min(-x if x < 0 else x, 32635) + 0x84
    exp = min(7, max(0, (x >> 7).bit_length() - 1))
    mant = (x >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


def alaw_encode_sample(x: int) -> int:
    x >>= 3  # 13-bit
    if x >= 0:
        mask = 0xD5
    else:
        mask, x = 0x55, -x - 1
    seg = 0
    for seg, end in enumerate((0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)):
        if x <= end:
            break
    else:
        return 0x7F ^ mask
    aval = seg << 4
    aval |= ((x >> 1) if seg < 2 else (x >> seg)) & 0x0F
    return aval ^ mask


def decode(payload: bytes, pt: int) -> list[int]:
    table = ULAW_TABLE if pt == 0 else ALAW_TABLE if pt == 8 else None
    if table is None:
        raise ValueError(f"not G.711: PT {pt}")
    return [table[b] for b in payload]


def encode(samples: list[int], pt: int) -> bytes:
    enc = ulaw_encode_sample if pt == 0 else alaw_encode_sample
    return bytes(enc(s) for s in samples)


# --------------------------------------------------------------------------- WAV

def read_wav(path: str | Path) -> tuple[list[int], int]:
    """Mono 16-bit samples (first channel if stereo) and the sample rate."""
    with wave.open(str(path), "rb") as w:
        n, ch, width, rate = w.getnframes(), w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(n)
    if width != 2:
        raise ValueError(f"{path}: {8 * width}-bit WAV, want 16-bit")
    samples = memoryview(raw).cast("h").tolist()
    return samples[::ch], rate


def prompt_path(lang: str, name: str) -> Path:
    return PROMPTS / lang / f"{name}.wav"


def prompt_as_heard(lang: str, name: str, pt: int) -> list[int]:
    """The prompt as a G.711 peer hears it: encoded in the call's law and decoded back."""
    samples, rate = read_wav(prompt_path(lang, name))
    assert rate == 8000, f"{lang}/{name}.wav is {rate} Hz"
    return decode(encode(samples, pt), pt)


# --------------------------------------------------------------------------- matching

BLOCK_MS = 10


def envelope(samples: list[int], rate: int = 8000, block_ms: int = BLOCK_MS) -> list[float]:
    n = rate * block_ms // 1000
    return [sum(abs(v) for v in samples[i:i + n]) / n for i in range(0, len(samples) - n + 1, n)]


def rms(samples: list[int]) -> float:
    return math.sqrt(sum(v * v for v in samples) / len(samples)) if samples else 0.0


def _pearson(a: list[float], b: list[float]) -> float:
    n = min(len(a), len(b))
    if n < 10:
        return 0.0
    a, b = a[:n], b[:n]
    ma, mb = sum(a) / n, sum(b) / n
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    if va == 0 or vb == 0:
        return 0.0
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / math.sqrt(va * vb)


def find(haystack: list[float], needle: list[float], max_lag: int | None = None) -> tuple[float, int]:
    """Best normalised correlation of `needle` inside `haystack` (envelopes), and its lag in
    blocks. The needle must fit entirely inside the haystack at the lag."""
    last = len(haystack) - len(needle)
    if max_lag is not None:
        last = min(last, max_lag)
    best = (0.0, 0)
    for lag in range(0, last + 1):
        c = _pearson(haystack[lag:lag + len(needle)], needle)
        if c > best[0]:
            best = (c, lag)
    return best


def match_prompt(heard_env: list[float], lang: str, name: str, pt: int = 0,
                 seconds: float = 2.0, skip: float = 0.0, max_lag: int | None = None):
    """Search the first `seconds` of a prompt (after `skip` seconds) inside heard audio."""
    ref = envelope(prompt_as_heard(lang, name, pt))
    per_s = 1000 // BLOCK_MS
    needle = ref[int(skip * per_s):int((skip + seconds) * per_s)]
    return find(heard_env, needle, max_lag)


# --------------------------------------------------------------------------- tones

def read_wav_channels(path: str | Path) -> tuple[list[list[int]], int]:
    """Every channel of a 16-bit PCM WAV, de-interleaved, and the sample rate."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2, f"{path}: expected 16-bit samples"
        channels, rate = w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    count = len(raw) // 2
    values = list(memoryview(raw).cast("h")) if count else []
    return [values[c::channels] for c in range(channels)], rate


def tone_power(samples: list[int], rate: int, freq: float) -> float:
    """Goertzel power of `freq`, normalised by the block length."""
    if not samples:
        return 0.0
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - k * s1 * s2) / len(samples)


def dominant_tone(samples: list[int], rate: int, candidates: list[float]) -> tuple[float, float]:
    """Which of `candidates` is strongest in the samples, and how many times stronger it is
    than the next strongest (a ratio well above 1 means the tone is clearly there)."""
    powers = sorted(((tone_power(samples, rate, f), f) for f in candidates), reverse=True)
    best, second = powers[0], powers[1]
    return best[1], best[0] / max(second[0], 1e-9)
