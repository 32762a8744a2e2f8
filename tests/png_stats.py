#!/usr/bin/env python3
"""Statistics of a PNG image, for the chart tests (standard library only: zlib for the pixel data).

Usage: png_stats.py FILE.png [#RRGGBB ...]
Prints one JSON object: width, height, the fraction of pixels that are not white, the bounding box of the
non-white pixels, and for each colour given the number of pixels within a small distance of it.
Handles 8-bit greyscale, RGB, RGBA and grey+alpha, non-interlaced (what rsvg-convert writes).
"""
import json
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG file")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or interlace != 0:
        raise SystemExit(f"{path}: only 8-bit non-interlaced PNGs are supported")
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        prev = line
    def rgb(line, x):
        px = line[x * channels:(x + 1) * channels]
        if channels == 1:
            return (px[0],) * 3, 255
        if channels == 2:
            return (px[0],) * 3, px[1]
        if channels == 3:
            return tuple(px), 255
        return tuple(px[:3]), px[3]
    return width, height, rows, rgb


def main():
    path, colours = sys.argv[1], sys.argv[2:]
    width, height, rows, rgb = read_png(path)
    targets = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in colours]
    counts = [0] * len(targets)
    ink = 0
    x0, y0, x1, y1 = width, height, -1, -1
    for y, line in enumerate(rows):
        for x in range(width):
            (r, g, b), a = rgb(line, x)
            if a < 128 or (r > 245 and g > 245 and b > 245):
                continue
            ink += 1
            x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
            for i, (tr, tg, tb) in enumerate(targets):
                if abs(r - tr) + abs(g - tg) + abs(b - tb) <= 24:
                    counts[i] += 1
    print(json.dumps({"width": width, "height": height, "ink_fraction": ink / (width * height),
                      "ink_box": [x0, y0, x1, y1], "colours": dict(zip(colours, counts))}))


if __name__ == "__main__":
    main()
