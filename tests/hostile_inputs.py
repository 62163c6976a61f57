"""Hostile but realistic inputs, made on the spot: each function writes files and returns their paths.

Used by ``test_hostile.py``; nothing here is downloaded or checked in.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data


def photo(height: int = 96, width: int = 128) -> np.ndarray:
    """A crop of scikit-image's astronaut, RGB uint8."""
    return np.ascontiguousarray(data.astronaut()[60 : 60 + height, 150 : 150 + width])


def changed(pixels: np.ndarray) -> np.ndarray:
    """The same picture with a clear patch painted in."""
    out = pixels.copy()
    h, w = out.shape[:2]
    out[h // 4 : h // 4 + max(h // 3, 1), w // 4 : w // 4 + max(w // 3, 1)] = (250, 30, 30)
    return out


def save(path: Path, pixels: np.ndarray, **options) -> Path:
    Image.fromarray(pixels).save(path, **options)
    return path


def pair(folder: Path, *, height: int = 96, width: int = 128, differ: bool = True) -> tuple[Path, Path]:
    """left.png and right.png of one photograph, the right one changed."""
    folder.mkdir(parents=True, exist_ok=True)
    left = photo(height, width) if height >= 8 and width >= 8 else np.full((height, width, 3), 90, np.uint8)
    right = changed(left) if differ else left
    return save(folder / "left.png", left), save(folder / "right.png", right)


# -- PNG surgery -----------------------------------------------------------------------------------


def png_chunks(raw: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 8
    while position < len(raw):
        (length,) = struct.unpack(">I", raw[position : position + 4])
        chunks.append((raw[position + 4 : position + 8], raw[position + 8 : position + 8 + length]))
        position += 12 + length
    return chunks


def png_from_chunks(chunks: list[tuple[bytes, bytes]], *, fix_crc: bool = True, damage: dict | None = None) -> bytes:
    out = bytearray(b"\x89PNG\r\n\x1a\n")
    for kind, body in chunks:
        crc = zlib.crc32(kind + body)
        if damage and kind in damage:
            body = bytearray(body)
            body[damage[kind]] ^= 0x5A
            body = bytes(body)
            if fix_crc:
                crc = zlib.crc32(kind + body)
        out += struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
    return bytes(out)


def damaged_png(path: Path, *, fix_crc: bool = False) -> Path:
    """One byte of the image data flipped, as a bad disk or transfer does (CRC left, or made to match)."""
    buffer = io.BytesIO()
    Image.fromarray(photo()).save(buffer, format="PNG")
    chunks = png_chunks(buffer.getvalue())
    idat = next(body for kind, body in chunks if kind == b"IDAT")
    path.write_bytes(png_from_chunks(chunks, fix_crc=fix_crc, damage={b"IDAT": len(idat) // 2}))
    return path


def chunk_bomb_png(path: Path, kind: bytes = b"zTXt", inflated: int = 4 << 20) -> Path:
    """A small PNG whose compressed text (or colour profile) chunk inflates to megabytes."""
    buffer = io.BytesIO()
    Image.fromarray(photo(16, 16)).save(buffer, format="PNG")
    chunks = png_chunks(buffer.getvalue())
    payload = zlib.compress(b"A" * inflated, 9)
    body = (b"Comment\x00\x00" if kind == b"zTXt" else b"icc\x00\x00") + payload
    chunks.insert(1, (kind, body))
    path.write_bytes(png_from_chunks(chunks))
    return path


def sixteen_bit_png_with_bad_data(path: Path) -> Path:
    """A 16-bit colour PNG (decoded by OpenCV's libpng, which prints its complaint) with damaged data."""
    pixels = (photo().astype(np.uint16) * 257)[..., ::-1]
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(pixels))
    assert ok
    chunks = png_chunks(encoded.tobytes())
    idat = next(body for kind, body in chunks if kind == b"IDAT")
    path.write_bytes(png_from_chunks(chunks, fix_crc=True, damage={b"IDAT": len(idat) // 2}))
    return path


# -- several frames --------------------------------------------------------------------------------


def animation(path: Path, *, patched: bool = True) -> Path:
    """A two-frame animated GIF or APNG (by suffix), or a two-page TIFF; the second frame upside down,
    and patched (see :func:`changed`) unless told otherwise."""
    first = photo(48, 64)
    second = np.ascontiguousarray(first[::-1])
    second = changed(second) if patched else second
    frames = [Image.fromarray(first), Image.fromarray(second)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    return path


def still_gif(path: Path) -> Path:
    return save(path, photo(48, 64))


# -- JPEG ------------------------------------------------------------------------------------------


def jpeg_scan_bomb(path: Path, scans: int = 400) -> Path:
    """A progressive JPEG with its last scan repeated: a few KB, each copy another full decode pass."""
    buffer = io.BytesIO()
    Image.fromarray(photo(64, 64)).save(buffer, format="JPEG", progressive=True, quality=90)
    raw = buffer.getvalue()
    last_sos = raw.rfind(b"\xff\xda")
    eoi = raw.rfind(b"\xff\xd9")
    scan = raw[last_sos:eoi]
    path.write_bytes(raw[:last_sos] + scan * scans + raw[eoi:])
    return path


def progressive_jpeg(path: Path) -> Path:
    return save(path, photo(64, 64), format="JPEG", progressive=True, quality=90)


# -- TIFF ------------------------------------------------------------------------------------------


def cut_sixteen_bit_tiff(path: Path) -> Path:
    """A 16-bit colour TIFF cut short, as an interrupted copy leaves it."""
    pixels = (photo().astype(np.uint16) * 257)[..., ::-1]
    ok, encoded = cv2.imencode(".tif", np.ascontiguousarray(pixels))
    assert ok
    raw = encoded.tobytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


# -- video -----------------------------------------------------------------------------------------


def video(path: Path, frames: list[np.ndarray], *, rotation: int = 0, codec: str = "ffv1") -> Path:
    """A lossless video of ``frames`` (every frame the same size unless they differ), optional display rotation."""
    from clips import write_video

    return write_video(path, frames, codec, rotation=rotation)


def clip(count: int = 6, *, changed_at: frozenset = frozenset(), height: int = 48, width: int = 64) -> list:
    base = photo(height, width)
    return [changed(base) if i in changed_at else base for i in range(count)]


def size_changing_video(path: Path) -> Path:
    """H.264 in MPEG-TS whose frames go from 64 x 48 to 48 x 32 after three (two streams, concatenated)."""
    first, second = path.with_suffix(".1.ts"), path.with_suffix(".2.ts")
    video(first, clip(3), codec="libx264")
    video(second, clip(3, height=32, width=48), codec="libx264")
    path.write_bytes(first.read_bytes() + second.read_bytes())
    first.unlink()
    second.unlink()
    return path


def png_claiming(path, width, height):
    """A tiny PNG whose header claims width x height pixels."""

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return path
