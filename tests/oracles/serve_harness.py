"""A live `lmforge serve` for the server checks: started on 127.0.0.1 with --port 0 (the port
it picked is read from its log), waited for until /health says ok, stopped with SIGTERM (its
exit status checked: 0) or killed if it hangs. Every wait is bounded.

Python standard library only, so that the hostile-request and load checks need nothing that
scripts/install_oracles.sh installs."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(REPO, "models", "demo")


class Server:
    """wait_ready=False returns as soon as the port is known (the model may still be loading);
    then call wait_ready(). env: extra environment variables for the server."""

    def __init__(self, lmforge, args=(), model=DEMO, log_path=None, start_timeout=120, env=None, wait_ready=True):
        self.cmd = [lmforge, "serve", "-m", model, "--host", "127.0.0.1", "--port", "0"] + list(args)
        self.log_lines = []
        self.log_file = open(log_path, "w") if log_path else None
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     errors="replace", env=dict(os.environ, **(env or {})))
        self.port = None
        self._port_seen = threading.Event()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not self._port_seen.wait(start_timeout):
            self.kill()
            raise RuntimeError("lmforge serve printed no port within %ds: %s" % (start_timeout, self.log_tail()))
        if wait_ready:
            self.wait_ready(start_timeout)

    def wait_ready(self, start_timeout=120):
        """Polls /health until it says ok (bounded); kills the server and raises otherwise."""
        deadline = time.time() + start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("lmforge serve exited with %s: %s" % (self.proc.returncode, self.log_tail()))
            try:
                status, body, _ = self.request("GET", "/health")
                if status == 200 and json.loads(body).get("status") == "ok":
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("lmforge serve was not healthy within %ds: %s" % (start_timeout, self.log_tail()))

    def _read_log(self):
        for line in self.proc.stderr:
            self.log_lines.append(line.rstrip("\n"))
            if self.log_file:
                self.log_file.write(line)
                self.log_file.flush()
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self._port_seen.set()

    def log_tail(self, n=20):
        return "\n".join(self.log_lines[-n:])

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def request(self, method, path, body=None, headers=None, timeout=60):
        """(status, body bytes, headers dict) of one request on a fresh connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = body
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
            elif isinstance(body, str):
                data = body.encode()
            h = {"Content-Type": "application/json"} if data is not None else {}
            h.update(headers or {})
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None, timeout=60):
        status, data, _ = self.request(method, path, body, headers, timeout)
        return status, json.loads(data) if data else None

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, timeout=30):
        """SIGTERM, then the exit status (killed and reported as None when it does not end)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self._reader.join(5)
        if self.log_file:
            self.log_file.close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def raw_request(port, method, path, body=None, timeout=60, stop_when=None, reset=False):
    """One request over a fresh loopback socket, `Connection: close`, read to the end or until
    stop_when(bytes so far) says stop (then, with reset, the socket closes with an RST, as a
    client that dies does). body: bytes as is, anything else as JSON, None for none. Returns
    (status or None, headers as a lower-cased dict, raw head text, raw body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
        s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                   "Connection: close\r\n\r\n" % (method, path, len(data))).encode() + data)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if stop_when is not None and stop_when(buf):
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                break
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0][9:12]) if lines and lines[0].startswith(b"HTTP/1.1 ") else None
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        return status, headers, head.decode(errors="replace"), rest
    finally:
        s.close()
