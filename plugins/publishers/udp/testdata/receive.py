"""Receives n datagrams from the udp publisher as a Ceilometer collector
would: msgpack.loads, then ceilometer.publisher.utils.verify_signature.

Usage: /usr/bin/python3 receive.py N SECRET. Prints the bound port on the
first line, then one JSON line per datagram: {"msg": ..., "verified": bool}.
"""
import json
import socket
import sys

import msgpack
from ceilometer.publisher import utils

n, secret = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("127.0.0.1", 0))
s.settimeout(30)
print(s.getsockname()[1], flush=True)
for _ in range(n):
    data, _ = s.recvfrom(65535)
    msg = msgpack.loads(data, raw=False)
    print(json.dumps({"msg": msg, "verified": utils.verify_signature(msg, secret)}), flush=True)
