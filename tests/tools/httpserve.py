#!/usr/bin/env python3
"""A small HTTP file server for the download tests: Range requests (206),
and --cut-once N, which ends the first response of each file after N bytes
(the client sees a broken transfer and must resume). Prints its port."""
import argparse, os, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--cut-once", type=int, default=0)
args = ap.parse_args()
cut_done = set()

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        path = os.path.join(args.dir, os.path.basename(self.path.split("?")[0]))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        data = open(path, "rb").read()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if args.cut_once and path not in cut_done:
            cut_done.add(path)
            self.wfile.write(body[: args.cut_once])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
