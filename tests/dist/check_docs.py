#!/usr/bin/env python3
"""The repository's documentation stands alone.

    check_docs.py SOURCE_DIR

No file of the repository points outside it to the founders' shared folder,
and every file README.md and docs/ (every *.md) name exists: markdown links
must resolve inside the repository, and a path with a file extension that
starts with one of the repository's folders (docs/design.md, l1vmm/ctl.h,
perf/README.md, ...) must be there, from the root or from the file's folder.
"""
import os
import re
import subprocess
import sys

FORBIDDEN = ["../" + "shared", "/work/" + "shared"]  # spelled apart: this file is checked too


def tracked(root):
    r = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True)
    if r.returncode == 0 and r.stdout:
        return [p for p in r.stdout.decode().split("\0") if p]
    out = []  # not a git checkout (a source tarball): every file but build trees
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(("build", "."))]
        out += [os.path.relpath(os.path.join(d, f), root) for f in files]
    return out


def main():
    root = os.path.abspath(sys.argv[1])
    files = tracked(root)
    folders = sorted({f.split("/")[0] for f in files if "/" in f})
    path_re = re.compile(r"(?<![\w./-])((?:%s)/[\w./-]*\.(?:md|h|c|cc|sh|py|txt|cmake|S|ld|in|service))\b"
                         % "|".join(map(re.escape, folders)))
    link_re = re.compile(r"\]\(([^)\s]+)\)")
    problems = []
    docs = 0
    for rel in files:
        path = os.path.join(root, rel)
        try:
            text = open(path, encoding="utf-8").read()
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        for bad in FORBIDDEN:
            for m in re.finditer(re.escape(bad), text):
                line = text.count("\n", 0, m.start()) + 1
                problems.append(f"{rel}:{line}: points outside the repository ({bad})")
        if not rel.endswith(".md"):
            continue
        docs += 1
        for m in link_re.finditer(text):
            target = m.group(1).split("#")[0]
            if not target or re.match(r"[a-z]+://", m.group(1)) or m.group(1).startswith("mailto:"):
                continue
            full = os.path.normpath(os.path.join(os.path.dirname(path), target))
            line = text.count("\n", 0, m.start()) + 1
            if not full.startswith(root + os.sep) or not os.path.exists(full):
                problems.append(f"{rel}:{line}: link to {target}: not a file of the repository")
        for m in path_re.finditer(text):
            here = os.path.join(os.path.dirname(path), m.group(1))  # guest/README.md: scripts/...
            if not os.path.exists(os.path.join(root, m.group(1))) and not os.path.exists(here):
                line = text.count("\n", 0, m.start()) + 1
                problems.append(f"{rel}:{line}: names {m.group(1)}, which is not in the repository")
    for p in problems:
        print("FAIL " + p)
    print(f"{len(files)} files checked, {docs} of them documentation; {len(problems)} problem(s)")
    sys.exit(1 if problems or docs == 0 else 0)


if __name__ == "__main__":
    main()
