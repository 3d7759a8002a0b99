"""Sends samples to a UDP port exactly as Ceilometer's udp:// publisher does
(ceilometer.publisher.udp.UDPPublisher.publish_samples): for each sample,
utils.meter_message_from_counter(sample, telemetry_secret), then
msgpack.dumps(msg, use_bin_type=True) in one datagram.

Usage: /usr/bin/python3 send_ceilometer.py PORT SECRET N. Sends N samples of
meter py.m signed with SECRET, then one of meter py.forged signed with
another secret. Prints each message sent as a JSON line.
"""
import json
import socket
import sys

import msgpack
from ceilometer import sample
from ceilometer.publisher import utils

port, secret, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def send(smp, key):
    msg = utils.meter_message_from_counter(smp, key)
    s.sendto(msgpack.dumps(msg, use_bin_type=True), ("127.0.0.1", port))
    print(json.dumps(msg), flush=True)


for i in range(n):
    # Integer and float volumes, nested metadata with a list and numbers:
    # what the signature renders differently in Python and Go if anything.
    volume = i if i % 2 == 0 else i + 0.25
    send(sample.Sample(
        name="py.m", type=sample.TYPE_GAUGE if i % 3 else sample.TYPE_CUMULATIVE,
        unit="B", volume=volume, user_id="u-%d" % (i % 2) if i % 4 else None,
        project_id="p-1", resource_id="r-%d" % (i % 5),
        timestamp="2026-12-07T10:00:%02d.123456+00:00" % (i % 60),
        resource_metadata={"flavor": {"name": "m1.small", "vcpus": 2},
                           "tags": ["a", "b'c"], "ratio": 0.5, "on": True},
        source="openstack", id="00000000-0000-4000-8000-%012d" % i,
        monotonic_time=None if i % 2 else 1234.5 + i), secret)
send(sample.Sample(
    name="py.forged", type=sample.TYPE_GAUGE, unit="B", volume=1,
    user_id=None, project_id="p-1", resource_id="r-x",
    timestamp="2026-12-07T10:00:00+00:00", resource_metadata={},
    id="00000000-0000-4000-8000-999999999999"), secret + "-not")
