"""A small client of memd's socket for the integration tests: one JSON reply per command line."""
import json
import os
import socket


class Conn:
    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def read_line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("memd closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self) -> dict:
        line = self.read_line()
        r = json.loads(line)
        assert isinstance(r, dict) and list(r)[0] == "ok", line
        return r

    def cmd(self, line: str) -> dict:
        self.send_raw(line.encode() + b"\n")
        return self.reply()

    def ok(self, line: str) -> dict:
        r = self.cmd(line)
        assert r["ok"] is True, f"{line!r} -> {r}"
        return r

    def error(self, line: str, contains: str) -> str:
        r = self.cmd(line)
        assert r["ok"] is False, f"{line!r} succeeded: {r}"
        assert contains in r["error"], f"{line!r}: {r['error']!r} lacks {contains!r}"
        return r["error"]

    def closed(self) -> bool:
        """True if memd closed the connection (EOF)."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True


def read_file(mnt, name, chunk):
    """One open of a file of the mount, read `chunk` bytes at a time to the end."""
    fd = os.open(os.path.join(mnt, name), os.O_RDONLY)
    try:
        parts = []
        while True:
            b = os.read(fd, chunk)
            if not b:
                return b"".join(parts).decode()
            parts.append(b)
    finally:
        os.close(fd)
