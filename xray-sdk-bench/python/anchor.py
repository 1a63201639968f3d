"""The standard workload of xray-sdk-bench, run on the official Python SDK for comparison.

Usage: python3 anchor.py [TREES]   (the packages of requirements.txt installed)

Each tree is one segment with ten subsegments; every subsegment carries two annotations and one metadata value.
  W1: the segment is sampled and the SDK sends it over UDP to a local socket.
  W0: the same calls with the segment unsampled.
Prints one line per workload, "<label>: <ns> ns per segment tree (<TREES> trees)", which the Rust bench reads.
"""
import socket
import sys
import threading
import time

from aws_xray_sdk.core import xray_recorder

WARM_UP = 200


class Sink:
    """A UDP socket on loopback that counts what arrives, until it has heard nothing for a second."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(1.0)
        self.received = 0
        self.thread = threading.Thread(target=self._count, daemon=True)
        self.thread.start()

    @property
    def address(self):
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def _count(self):
        while True:
            try:
                self.sock.recv(65536)
            except socket.timeout:
                return
            self.received += 1


def one_tree(sampled):
    xray_recorder.begin_segment("bench", sampling=1 if sampled else 0)
    for i in range(10):
        sub = xray_recorder.begin_subsegment(f"op{i}")
        sub.put_annotation("user", "alice")
        sub.put_annotation("n", i)
        sub.put_metadata("payload", {"k": i, "v": "x" * 16})
        xray_recorder.end_subsegment()
    xray_recorder.end_segment()


def time_trees(sampled, trees):
    for _ in range(WARM_UP):
        one_tree(sampled)
    start = time.perf_counter()
    for _ in range(trees):
        one_tree(sampled)
    return (time.perf_counter() - start) / trees * 1e9


def main():
    trees = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    sink = Sink()
    # No sampler (each segment's decision is given), no plugins, and a missing context only logged.
    xray_recorder.configure(
        sampling=False, context_missing="LOG_ERROR", daemon_address=sink.address, plugins=()
    )
    for sampled, label in ((True, "W1 sampled"), (False, "W0 unsampled")):
        ns = time_trees(sampled, trees)
        print(f"{label}: {ns:.0f} ns per segment tree ({trees} trees)", flush=True)
    sink.thread.join()
    print(f"datagrams received: {sink.received}")


if __name__ == "__main__":
    main()
