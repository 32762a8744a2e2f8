#!/usr/bin/env python3
"""The guide quotes its examples verbatim: after a line `<!-- example: apps/examples/guide/X.cpp -->` in
docs/guide/*.md comes a ```cpp block equal to that file, and every apps/examples/guide/guide_*.cpp is
quoted somewhere. The examples themselves are compiled and run by CTest, so the guide's code runs.

Usage: check_guide_examples.py SOURCE_DIR [--write]   (--write refreshes the quoted blocks from the files)
"""
import pathlib
import re
import sys

MARK = re.compile(r"^<!-- example: (\S+) -->\s*$")


def process(root, write):
    problems, quoted = [], set()
    for doc in sorted((root / "docs" / "guide").glob("*.md")):
        lines = doc.read_text(encoding="utf-8").split("\n")
        out, i, changed = [], 0, False
        while i < len(lines):
            out.append(lines[i])
            m = MARK.match(lines[i])
            i += 1
            if not m:
                continue
            rel = m.group(1)
            src = root / rel
            quoted.add(rel)
            if not src.is_file():
                problems.append(f"{doc.name}: quotes {rel}, which does not exist")
                continue
            if i >= len(lines) or lines[i] != "```cpp":
                problems.append(f"{doc.name}:{i + 1}: expected a ```cpp block after the example marker for {rel}")
                continue
            end = i + 1
            while end < len(lines) and lines[end] != "```":
                end += 1
            block = "\n".join(lines[i + 1:end])
            text = src.read_text(encoding="utf-8").rstrip("\n")
            if block != text:
                if write:
                    changed = True
                else:
                    problems.append(f"{doc.name}:{i + 1}: the block differs from {rel} "
                                    "(run tests/check_guide_examples.py . --write)")
            out.append("```cpp")
            out.extend(text.split("\n"))
            out.append("```")
            i = end + 1
        if write and changed:
            doc.write_text("\n".join(out), encoding="utf-8")
            print(f"check_guide_examples: refreshed {doc.relative_to(root)}")
    for src in sorted((root / "apps" / "examples" / "guide").glob("guide_*.cpp")):
        rel = str(src.relative_to(root))
        if rel not in quoted:
            problems.append(f"{rel} is not quoted in any docs/guide chapter")
    return problems


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    problems = process(root, "--write" in sys.argv[2:])
    for p in problems:
        print("check_guide_examples:", p)
    if problems:
        sys.exit(1)
    print("check_guide_examples: every guide example is quoted verbatim")


if __name__ == "__main__":
    main()
