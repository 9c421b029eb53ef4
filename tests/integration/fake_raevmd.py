#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for raevmd's control socket, for tests/integration/test_cli.sh.

It speaks the wire format of include/raevm/api.h (line-delimited JSON: a
greeting, requests with ids, replies, events after events.subscribe) with
canned answers, and appends every request line it receives, verbatim, to
the log file so the test can check what the CLI put on the wire.

  fake_raevmd.py --socket PATH --log FILE [--mode MODE]

MODE: normal (default); badproto (greets with protocol 99); notraevm
(greets with something that is not a raevm greeting); silent (never greets);
refuse (an EACCES error line instead of the greeting, as raevmd answers a
peer that is not root, its owner or in its group).
It binds and listens before it forks into the background, so the socket is
ready when the command returns; it prints the server's pid on stdout.

Canned VMs: "web" (running) and "db" (stopped). The names "missing" (and any
unknown name for info), "secret" and "busy" give ENOENT, EACCES and EBUSY.
"""
import argparse
import json
import os
import socket
import sys
import threading

VMS = [
    {"name": "web", "state": "running", "cpus": 2,
     "memory": 1073741824, "uptime": 3725},
    {"name": "db", "state": "stopped", "cpus": 1, "memory": 536870912},
]

INFO = {
    "name": "web",
    "state": "running",
    "cpus": 2,
    "memory": 1073741824,
    "uptime": 3725,
    "pid": 4242,
    "manifest": {
        "raevm": 1,
        "name": "web",
        "boot": {"kernel": "/srv/web/vmlinux", "cmdline": "console=ttyS0"},
        "disks": [{"path": "/srv/web/root.img", "format": "raw"}],
    },
}

EVENTS = [
    {"event": "vm.state", "data": {"name": "web", "state": "starting"},
     "ts": "2025-01-02T03:04:05Z"},
    {"event": "vm.state", "data": {"name": "web", "state": "running"},
     "ts": "2025-01-02T03:04:06.250Z"},
    {"event": "vm.state",
     "data": {"name": "db", "state": "crashed",
              "reason": "worker killed by signal 9"},
     "ts": "2025-01-02T03:04:07Z"},
]


def error(code, message):
    return {"ok": False, "error": {"code": code, "message": message}}


def by_name(args):
    name = args.get("name")
    if name == "missing":
        return error("ENOENT", "no VM named 'missing'")
    if name == "secret":
        return error("EACCES", "permission denied: only the daemon's "
                     "owner and root may change VMs")
    if name == "busy":
        return error("EBUSY", "VM 'busy' is running; stop it first")
    return None


class Server:
    def __init__(self, path, log, mode):
        self.path = path
        self.log = log
        self.mode = mode
        self.lock = threading.Lock()
        self.console_n = 0

    def record(self, line):
        with self.lock:
            with open(self.log, "a") as f:
                f.write(line + "\n")

    def console_socket(self):
        """Listens on a new console socket that echoes what it receives,
        prefixed with 'echo: ', and closes when the client half-closes."""
        with self.lock:
            self.console_n += 1
            path = "%s.console%d" % (self.path, self.console_n)
        if os.path.exists(path):
            os.unlink(path)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)

        def serve():
            conn, _ = srv.accept()
            srv.close()
            conn.sendall(b"guest login: ")
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                conn.sendall(b"echo: " + data)
            conn.close()
        threading.Thread(target=serve, daemon=True).start()
        return path

    def answer(self, cmd, args):
        if cmd == "daemon.version":
            return {"ok": True, "result": {
                "version": "0.1.0-fake", "protocol": 1,
                "capabilities": ["events"]}}
        if cmd == "vm.list":
            return {"ok": True, "result": {"vms": VMS}}
        bad = by_name(args)
        if bad:
            return bad
        if cmd == "vm.info":
            if args.get("name") != "web":
                return error("ENOENT", "no VM named '%s'" % args.get("name"))
            return {"ok": True, "result": INFO}
        if cmd == "vm.logs":
            return {"ok": True, "result": {"lines": [
                "boot: ok", "evil: \x1b]0;owned\x07 title", "login:"]}}
        if cmd == "vm.console":
            return {"ok": True, "result": {"socket": self.console_socket()}}
        if cmd == "vm.create":
            m = args.get("manifest", {})
            if m.get("name") == "web":
                return error("EEXIST", "a VM named 'web' already exists")
            if m.get("name") == "invalid":
                e = error("EINVAL", "invalid manifest: boot.kernel: no such "
                          "file; memory: too large for this host")
                e["error"]["errors"] = ["boot.kernel: no such file",
                                        "memory: too large for this host"]
                return e
            return {"ok": True, "result": {"name": m.get("name"),
                                           "state": "stopped"}}
        if cmd == "vm.import":
            return {"ok": True, "result": {"name": args.get("name", "web2")}}
        if cmd in ("vm.start", "vm.stop", "vm.kill", "vm.pause", "vm.resume",
                   "vm.restart", "vm.delete", "vm.set", "vm.export",
                   "events.subscribe"):
            return {"ok": True, "result": {}}
        return error("ENOSYS", "unknown command '%s'" % cmd)

    def client(self, conn):
        f = conn.makefile("rwb", buffering=0)
        try:
            if self.mode == "silent":
                f.read()
                return
            if self.mode == "refuse":
                f.write((json.dumps(dict({"id": None}, **error(
                    "EACCES", "uid 65534 may not use raevmd: only root, "
                    "uid 0 and members of group 'raevm' may connect")))
                    + "\n").encode())
                return
            if self.mode == "notraevm":
                f.write(b"SSH-2.0-OpenSSH_9.2\r\n")
            else:
                proto = 99 if self.mode == "badproto" else 1
                f.write((json.dumps({"raevm": {
                    "version": "0.1.0-fake", "protocol": proto,
                    "capabilities": ["events"]}}) + "\n").encode())
            for raw in f:
                line = raw.decode().rstrip("\n")
                self.record(line)
                req = json.loads(line)
                reply = self.answer(req["cmd"], req.get("args", {}))
                reply = dict({"id": req["id"]}, **reply)
                # A stray event and a reply to another id come first: the
                # client must skip both.
                f.write((json.dumps({"id": req["id"] + 1000, "ok": True,
                                     "result": {}}) + "\n").encode())
                f.write((json.dumps(reply) + "\n").encode())
                if req["cmd"] == "events.subscribe":
                    for ev in EVENTS:
                        f.write((json.dumps(ev) + "\n").encode())
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            conn.close()

    def serve(self, srv):
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=self.client, args=(conn,),
                             daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--mode", default="normal",
                    choices=["normal", "badproto", "notraevm", "silent",
                             "refuse"])
    opts = ap.parse_args()
    if os.path.exists(opts.socket):
        os.unlink(opts.socket)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(opts.socket)
    srv.listen(64)
    pid = os.fork()
    if pid:
        print(pid)
        sys.stdout.flush()
        os._exit(0)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    Server(opts.socket, opts.log, opts.mode).serve(srv)


if __name__ == "__main__":
    main()
