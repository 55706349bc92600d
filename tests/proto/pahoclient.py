# SPDX-License-Identifier: MIT
"""paho-mqtt 1.6 client wrapped for tests: blocking calls with bounded waits,
received messages in a queue."""

import queue
import threading

import paho.mqtt.client as mqtt

TIMEOUT = 5.0
MQTTv31 = mqtt.MQTTv31
MQTTv311 = mqtt.MQTTv311


class Client:
    def __init__(self, broker, client_id='', clean=True, proto=MQTTv311, host='127.0.0.1',
                 keepalive=60, will=None, username=None, password=None):
        """will: (topic, payload, qos, retain) or None."""
        self.broker, self.host, self.keepalive = broker, host, keepalive
        self.c = mqtt.Client(client_id=client_id, clean_session=clean, protocol=proto)
        if will is not None:
            self.c.will_set(*will)
        if username is not None:
            self.c.username_pw_set(username, password)
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack = None  # (return code, session present)
        self.subacks = {}
        self.unsubacks = set()
        self.acked = threading.Condition()
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe
        self.running = False

    def _on_connect(self, c, u, flags, rc):
        self.connack = (rc, bool(flags.get('session present')))
        self.connected.set()

    def _on_disconnect(self, c, u, rc):
        # paho's loop thread would reconnect on its own, which would take the
        # session back from a client that took it over; a lost connection stays lost.
        c.disconnect()
        self.disconnected.set()

    def _on_subscribe(self, c, u, mid, granted):
        with self.acked:
            self.subacks[mid] = list(granted)
            self.acked.notify_all()

    def _on_unsubscribe(self, c, u, mid):
        with self.acked:
            self.unsubacks.add(mid)
            self.acked.notify_all()

    def connect(self, expect_rc=0):
        """Connect and wait for the CONNACK; returns session_present."""
        self.connected.clear()
        self.disconnected.clear()
        self.c.connect(self.host, self.broker.port, self.keepalive)
        if not self.running:
            self.c.loop_start()
            self.running = True
        if not self.connected.wait(TIMEOUT):
            raise AssertionError('no CONNACK within %.1fs' % TIMEOUT)
        rc, sp = self.connack
        if rc != expect_rc:
            raise AssertionError('CONNACK rc %d, expected %d' % (rc, expect_rc))
        return sp

    def subscribe(self, topic, qos=0):
        """topic: a filter or a list of (filter, qos). Returns the granted QoS list."""
        rc, mid = self.c.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS, rc
        with self.acked:
            if not self.acked.wait_for(lambda: mid in self.subacks, TIMEOUT):
                raise AssertionError('no SUBACK for %r' % (topic,))
            return self.subacks.pop(mid)

    def unsubscribe(self, topic):
        rc, mid = self.c.unsubscribe(topic)
        assert rc == mqtt.MQTT_ERR_SUCCESS, rc
        with self.acked:
            if not self.acked.wait_for(lambda: mid in self.unsubacks, TIMEOUT):
                raise AssertionError('no UNSUBACK for %r' % (topic,))

    def publish(self, topic, payload, qos=0, retain=False, wait=True):
        """Publish; with wait, until the QoS handshake completed (sent, for QoS 0)."""
        info = self.c.publish(topic, payload, qos, retain)
        if wait:
            info.wait_for_publish(TIMEOUT)
            if not info.is_published():
                raise AssertionError('publish to %r (QoS %d) not completed' % (topic, qos))
        return info

    def get(self, timeout=TIMEOUT):
        """The next received message (paho MQTTMessage); fails on timeout."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError('no message within %.1fs' % timeout) from None

    def expect(self, topic, payload, qos=None, retain=None, timeout=TIMEOUT):
        """The next message must have this topic and payload (and QoS/retain if given)."""
        m = self.get(timeout)
        if isinstance(payload, str):
            payload = payload.encode()
        got = (m.topic, m.payload)
        if got != (topic, payload):
            raise AssertionError('expected %r, got %r' % ((topic, payload), got))
        if qos is not None and m.qos != qos:
            raise AssertionError('%r: QoS %d, expected %d' % (topic, m.qos, qos))
        if retain is not None and bool(m.retain) != retain:
            raise AssertionError('%r: retain %d, expected %d' % (topic, m.retain, retain))
        return m

    def expect_none(self, duration=0.5):
        """No message may arrive for duration seconds."""
        try:
            m = self.messages.get(timeout=duration)
        except queue.Empty:
            return
        raise AssertionError('unexpected message %r %r' % (m.topic, m.payload))

    def drain(self, n, timeout=TIMEOUT):
        """Exactly the next n messages (each within timeout)."""
        return [self.get(timeout) for _ in range(n)]

    def disconnect(self):
        """Send DISCONNECT and wait for the socket to close."""
        self.c.disconnect()
        self.disconnected.wait(TIMEOUT)
        self.stop()

    def kill(self):
        """Lose the connection abnormally: no DISCONNECT, socket closed."""
        self.stop()
        s = self.c.socket()
        if s is not None:
            s.close()

    def stop(self):
        if self.running:
            self.c.loop_stop()
            self.running = False

    def close(self):
        if self.running:
            try:
                self.c.disconnect()
            except Exception:
                pass
            self.stop()
        s = self.c.socket()
        if s is not None:
            s.close()
