"""The commands of the push protocol (see pushes.py): read, checked and carried out on the
server's plain objects, without I/O.

A message is a command when it starts with the bytes `{"op":` (the op the first key, no
space before it; engines test COMMAND_PREFIX, or TEXT_COMMAND_PREFIX where text comes as
str). Commands count in `messages_received` and their answers in `messages_sent`, like
the messages they sit among; read_stall, garble_ratio and disconnect_after leave them be.

    subscribe, unsubscribe, publish   topics.py
    stream, stop_stream               streams.py

A bad command -- not JSON, not an object, an unknown op, a missing topic, a rate <= 0 --
is answered `{"op":"error","error":"<what is wrong>"}` and counted (`invalid_commands`);
the connection stays open. Answers go in the frame type of the command.
"""
from __future__ import annotations

import orjson

from .streams import Stream, StreamError
from .topics import TopicError, Topics, topic_of

COMMAND_PREFIX = b'{"op":'
TEXT_COMMAND_PREFIX = '{"op":'


class CommandError(ValueError):
    pass


def _json(data: dict) -> bytes:
    return orjson.dumps(data)


class Commands:
    """Carries out one connection's commands. `handle` returns the connections (Exchanges)
    that have something new to send: the engine sends their outboxes and arms their timers."""

    def __init__(self, stats, faults, topics: Topics, text_kind, max_size: int = 1 << 20):
        self.stats, self.faults, self.topics = stats, faults, topics
        self.text_kind, self.max_size = text_kind, max_size
        # told of every publish (topic, message, kind): a server of several processes
        # hands it to the others, whose subscribers get it too (multiprocess.py)
        self.on_publish = None
        self._ops = {"subscribe": self._subscribe, "unsubscribe": self._unsubscribe,
                     "publish": self._publish, "stream": self._stream,
                     "stop_stream": self._stop_stream}

    def handle(self, connection, message, kind, now: float) -> list:
        stats = self.stats
        stats.messages_received += 1
        stats.bytes_received += connection.size(message)
        try:
            command = orjson.loads(message)
            if not isinstance(command, dict):
                raise CommandError("a command is a JSON object")
            op = command.get("op")
            handler = self._ops.get(op) if isinstance(op, str) else None
            if handler is None:
                raise CommandError(f"unknown op {op!r}; known: {', '.join(sorted(self._ops))}")
            return handler(connection, command, message, kind, now)
        except orjson.JSONDecodeError as error:
            problem = f"a message starting {COMMAND_PREFIX.decode()} is a command, and this " \
                      f"is not valid JSON: {error}"
        except (CommandError, TopicError, StreamError) as error:
            problem = str(error)
        stats.invalid_commands += 1
        connection.answer(kind, _json({"op": "error", "error": problem}))
        return [connection]

    def _subscribe(self, connection, command, message, kind, now) -> list:
        topic = topic_of(command)
        count = self.topics.subscribe(connection, topic)
        connection.answer(kind, _json({"op": "subscribed", "topic": topic,
                                       "subscribers": count}))
        return [connection]

    def _unsubscribe(self, connection, command, message, kind, now) -> list:
        topic = topic_of(command)
        count = self.topics.unsubscribe(connection, topic)
        connection.answer(kind, _json({"op": "unsubscribed", "topic": topic,
                                       "subscribers": count}))
        return [connection]

    def _publish(self, connection, command, message, kind, now) -> list:
        topic = topic_of(command)
        if self.on_publish is not None:
            self.on_publish(topic, message, kind)
        deliveries = self.topics.publish(connection, topic)
        for subscriber, delay_s, counts in deliveries:
            subscriber.deliver(kind, message, counts, delay_s)
        return [subscriber for subscriber, _, _ in deliveries]

    def _stream(self, connection, command, message, kind, now) -> list:
        stream = Stream.from_command(command, now, self.faults, self.stats, self.text_kind,
                                     self.max_size)
        if connection.stream is not None:
            connection.stream.stop()  # replaced
        connection.answer(kind, _json({"op": "streaming", "rate": command["rate"]}))
        connection.stream = stream
        return [connection]

    def _stop_stream(self, connection, command, message, kind, now) -> list:
        stream = connection.stream
        sent = stream.stop() if stream is not None else 0
        connection.answer(kind, _json({"op": "stream_stopped", "sent": sent}))
        return [connection]
