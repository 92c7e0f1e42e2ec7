#!/usr/bin/env python3
"""A NOTIFY_SOCKET stand-in for the tests: binds a datagram socket and writes
one line per sd_notify message, "pid=<sender> KEY=VALUE | KEY=VALUE".
usage: notify_listener.py SOCKET_PATH LOGFILE   (SIGTERM stops it)"""
import array
import os
import signal
import socket
import struct
import sys

path, logfile = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
with open(logfile, "a", buffering=1) as out:
    while True:
        msg, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(253 * 4) + socket.CMSG_SPACE(12))
        pid = "?"
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(data[: len(data) - len(data) % 4])
                for fd in fds:
                    os.close(fd)
            elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iii", data[:12])[0]
        out.write(f"pid={pid} " + msg.decode(errors="replace").strip().replace("\n", " | ") + "\n")
