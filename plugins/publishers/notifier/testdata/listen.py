"""Consumes the notifier publisher's notifications with oslo.messaging, as
Ceilometer's notification agent does (a notification listener on topic
"metering" of exchange "ceilometer"), and checks each sample's signature
with ceilometer.publisher.utils.verify_signature.

Usage: /usr/bin/python3 listen.py URL N SECRET. Prints "ready" once
listening, then one JSON line per sample: {"sample": ..., "verified": bool,
"event_type": ..., "publisher_id": ...}; exits after N samples.
"""
import json
import sys
import threading

from oslo_config import cfg
import oslo_messaging

from ceilometer.publisher import utils

url, n, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# oslo.messaging names its RabbitMQ driver "rabbit" (amqp:// is AMQP 1.0).
if url.startswith("amqp://"):
    url = "rabbit://" + url[len("amqp://"):]
done = threading.Event()
count = 0
lock = threading.Lock()


class Endpoint:
    def sample(self, ctxt, publisher_id, event_type, payload, metadata):
        global count
        with lock:
            for m in payload:
                print(json.dumps({"sample": m, "verified": utils.verify_signature(m, secret),
                                  "event_type": event_type, "publisher_id": publisher_id}), flush=True)
                count += 1
            if count >= n:
                done.set()
        return oslo_messaging.NotificationResult.HANDLED


conf = cfg.ConfigOpts()
conf([], project="probe")
transport = oslo_messaging.get_notification_transport(conf, url=url)
targets = [oslo_messaging.Target(topic="metering", exchange="ceilometer")]
listener = oslo_messaging.get_notification_listener(transport, targets, [Endpoint()], executor="threading")
listener.start()
print("ready", flush=True)
ok = done.wait(60)
listener.stop()
listener.wait()
sys.exit(0 if ok else 1)
