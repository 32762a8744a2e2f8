#!/usr/bin/env python3
"""Compares two JSON documents: same structure and strings, numbers equal to a relative 1e-9."""
import json
import math
import sys


def compare(a, b, path="$"):
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path}: keys differ: {sorted(set(a) ^ set(b))}"
        for k in a:
            err = compare(a[k], b[k], f"{path}.{k}")
            if err:
                return err
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            err = compare(x, y, f"{path}[{i}]")
            if err:
                return err
        return None
    if isinstance(a, bool) or isinstance(b, bool):
        return None if a == b else f"{path}: {a!r} != {b!r}"
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return None if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300) else f"{path}: {a!r} != {b!r}"
    return None if a == b else f"{path}: {a!r} != {b!r}"


with open(sys.argv[1]) as f:
    golden = json.load(f)
with open(sys.argv[2]) as f:
    got = json.load(f)
err = compare(golden, got)
if err:
    print(err)
    sys.exit(1)
