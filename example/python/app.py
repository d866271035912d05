#!/usr/bin/env python3
# A nodesockd worker in Python, standard library only: an HTTP server on
# the UNIX socket in $LISTEN_ON, speaking the worker channel (nodesockd(1),
# THE WORKER CHANNEL) on fd 3: JSON lines, "online" once listening; on
# "shutdown" it stops accepting, finishes what it serves and exits 0; a
# worker started suspended holds requests until "resume"; with the
# watchdog on it sends "heartbeat". Lines it does not know it ignores, as
# the daemon does. Run it with "command": ["python3", "app.py"] (see
# nodesockd.json).
import json, os, socketserver, sys, threading, time
from http.server import BaseHTTPRequestHandler

chan = os.fdopen(3, 'r+b', buffering=0)
lock = threading.Lock()
resumed = threading.Event()
if os.environ.get('NODESOCKD_SUSPENDED') != 'true':
    resumed.set()

def send(msg):
    with lock:
        chan.write(json.dumps(msg).encode() + b'\n')

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        resumed.wait()
        body = ('%d %s\n' % (os.getpid(), os.environ['NODESOCKD_WORKER_ID'])).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = False      # server_close() waits for every request

server = Server(os.environ[os.environ.get('NODESOCKD_LISTEN_VAR', 'LISTEN_ON')], Handler)

def channel():
    for line in chan:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg == 'shutdown':
            resumed.set()
            server.shutdown()
            return
        if msg == 'resume':
            resumed.set()
    # The daemon is gone: serve on until the next one stops us.

def heartbeat(ms):
    while True:
        send('heartbeat')
        time.sleep(ms / 3000)

threading.Thread(target=channel, daemon=True).start()
ms = int(os.environ.get('NODESOCKD_WATCHDOG_MS') or 0)
if ms:
    threading.Thread(target=heartbeat, args=(ms,), daemon=True).start()
send('online')
server.serve_forever()
server.server_close()
sys.exit(0)
