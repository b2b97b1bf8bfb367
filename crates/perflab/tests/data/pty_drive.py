"""Drive a program through a pseudo-terminal, as a person at a terminal would.

usage: pty_drive.py STEPS_JSON PROGRAM [ARGS...]

STEPS_JSON is a list of [expect, send]: wait (at most 60 s) until `expect` has appeared in
what the program printed (escape codes removed), then type `send` (\r is Enter, \x1b[B the
down arrow). When the steps are done, wait for the program to end. Prints everything the
program showed (with its escape codes when PTY_DRIVE_RAW=1), then exits with its exit code
(124 when a step timed out). `\x03` typed at the terminal is Ctrl-C: the terminal sends SIGINT to
the whole foreground process group.
"""
import json
import os
import pty
import re
import select
import sys
import time

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


def main():
    steps = json.loads(sys.argv[1])
    argv = sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    seen = b""
    shown = b""

    def read(timeout):
        nonlocal seen, shown
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        shown += data
        seen += ANSI.sub(b"", data)
        return True

    for expect, send in steps:
        deadline = time.time() + 60
        want = expect.encode()
        while want not in seen:
            if time.time() > deadline or not read(0.2) and want not in seen:
                sys.stdout.write(ANSI.sub(b"", shown).decode(errors="replace"))
                sys.stdout.write("\n[pty_drive] timed out waiting for %r\n" % expect)
                os.kill(pid, 9)
                sys.exit(124)
        # Later expectations must appear after this point.
        seen = seen[seen.index(want) + len(want):]
        time.sleep(0.2)
        os.write(fd, send.encode())
    deadline = time.time() + 600
    while time.time() < deadline and read(0.5):
        pass
    _, status = os.waitpid(pid, 0)
    raw = os.environ.get("PTY_DRIVE_RAW") == "1"
    sys.stdout.write((shown if raw else ANSI.sub(b"", shown)).decode(errors="replace"))
    sys.exit(os.waitstatus_to_exitcode(status))


main()
