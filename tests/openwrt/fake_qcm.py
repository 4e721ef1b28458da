"""A stand-in for ``qcm connect`` in the tests of qcm-netifd: it answers ``status`` on a control
socket in $QCM_RUN_DIR as qcm does (one JSON line each way, its own pid in the status), and goes
through the phases given as JSON on its command line, printing one line per phase. It moves to
the next phase only once the status of the current one has been asked for (so that a test does
not depend on timing), and ends with the exit status given; SIGTERM ends it with 0."""

import json
import os
import signal
import socket
import sys
import threading
import time

phases = json.loads(sys.argv[1])
exit_status = int(sys.argv[2])
run_dir = os.environ["QCM_RUN_DIR"]
os.makedirs(run_dir, exist_ok=True)
path = os.path.join(run_dir, "wwan0.sock")
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(4)
current = {"bearers": []}
asked = threading.Event()


def serve() -> None:
    while True:
        connection, _ = server.accept()
        with connection:
            request = connection.makefile("rb").readline()
            if json.loads(request).get("command") == "status":
                status = dict(current, pid=os.getpid(), netdev="wwan0",
                              state=current.get("state", "connecting"))
                connection.sendall(json.dumps({"ok": True, "status": status}).encode() + b"\n")
                asked.set()


def stop(signum, frame):
    print("stopped by SIGTERM", flush=True)
    os.unlink(path)
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
threading.Thread(target=serve, daemon=True).start()
for phase in phases:
    current = phase
    asked.clear()
    print("phase: %s" % phase.get("state", "?"), flush=True)
    if not asked.wait(20):
        print("nobody asked for the status", flush=True)
        break
if exit_status < 0:  # wait for SIGTERM
    while True:
        time.sleep(1)
print("qcm: the last words before exit %d" % exit_status, flush=True)
os.unlink(path)
sys.exit(exit_status)
