"""``python -m roost.runner.runtime.sandbox.ptyexec SOCKET -- runsc ... exec ...``: a terminal
for ``runsc exec``, handed over the way crun hands one.

The container driver asks for a terminal with a console socket: the runtime makes a
pseudo-terminal, sends its master end over the socket (SCM_RIGHTS) and runs the command on the
other end. ``runsc exec`` honours a console socket only with ``--detach``, and then the process
the runner waits for exits at once, taking the command's exit status with it. So this wrapper
makes the pseudo-terminal itself, sends the master the same way, makes the other end its
controlling terminal and stdio, and becomes ``runsc exec`` -- which, given a terminal as stdio
and ``"terminal": true`` in the process document, passes it into the sandbox. The runner keeps
waiting on the process it started, now runsc, and gets the command's exit status.
"""

import array
import fcntl
import os
import socket
import sys
import termios


def hand_over(console_socket: str, argv: list[str]) -> None:
    master, slave = os.openpty()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(console_socket)
        fds = array.array("i", [master])
        sock.sendmsg([b"console"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())])
    os.close(master)
    if os.getsid(0) != os.getpid():  # the driver starts it as a session leader already
        os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
    os.execvp(argv[0], argv)  # noqa: S606 - an argv list; becoming runsc is the point


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        sys.exit("usage: python -m roost.runner.runtime.sandbox.ptyexec SOCKET -- PROGRAM...")
    try:
        hand_over(args[0], args[2:])
    except OSError as exc:
        sys.exit(f"ptyexec: {exc}")


if __name__ == "__main__":
    main()
