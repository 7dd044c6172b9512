"""Run a command under ThreadSanitizer, then summarise its reports (``nox -s tsan`` uses it).

    python scripts/tsan_report.py REPORT_DIR -- COMMAND...

TSAN_OPTIONS must send reports to REPORT_DIR/report.<pid> (``log_path``). Each
report is grouped by its kind and the top frame of each stack it shows, and
printed once with its count and whether those frames are in freeorder's C
extension or in CPython. Exit status: the command's if it failed (other than
TSan's own exit code 66), else 1 if there was any report, else 0.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

TSAN_EXIT = 66
HEADER = re.compile(r"^WARNING: ThreadSanitizer: (.+?) \(pid=\d+\)")
FRAME = re.compile(r"^\s+#0 (\S+) (\S+)")


def parse(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """(kind, top frames) of each report in one log file."""
    reports = []
    for block in text.split("==================")[1:]:
        lines = block.strip().splitlines()
        if not lines:
            continue
        head = HEADER.match(lines[0])
        if not head:
            continue
        frames = tuple(f"{m.group(1)} {m.group(2)}" for line in lines if (m := FRAME.match(line)))
        reports.append((head.group(1), frames))
    return reports


def summarise(report_dir: Path) -> int:
    counts: collections.Counter = collections.Counter()
    for path in sorted(report_dir.glob("report.*")):
        counts.update(parse(path.read_text(errors="replace")))
    total = sum(counts.values())
    print(f"ThreadSanitizer: {total} report(s), {len(counts)} distinct, in {report_dir}/report.*")
    for (kind, frames), n in counts.most_common():
        where = "freeorder _atomics" if any("atomics.c" in f for f in frames) else "CPython/other"
        print(f"  {n:5d} x {kind} [{where}]")
        for frame in frames[:4]:
            print(f"          {frame}")
    return total


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 1:
        print(__doc__, file=sys.stderr)
        return 2
    report_dir, command = Path(argv[0]), argv[2:]
    status = subprocess.run(command).returncode
    total = summarise(report_dir)
    if status not in (0, TSAN_EXIT):
        return status
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
