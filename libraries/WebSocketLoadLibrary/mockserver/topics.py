"""Publish/subscribe in the push protocol, decided without I/O: who hears what.

    {"op":"subscribe","topic":"prices"}    -> {"op":"subscribed","topic":"prices","subscribers":2}
    {"op":"unsubscribe","topic":"prices"}  -> {"op":"unsubscribed","topic":"prices","subscribers":1}
    {"op":"publish","topic":"prices","price":1.5}  -> no answer; each other subscriber of
                                              "prices" gets these very bytes, same frame type

`subscribers` is the topic's count after the change (subscribing twice is once). A
connection holds any number of topics and leaves them all when it closes. A publish is
delivered to every subscriber of its topic but its publisher; when there is none it is
counted `unheard` and otherwise ignored. Per topic the stats count `subscribers`,
`published`, `delivered`, `dropped` (by drop_ratio) and `unheard`.

The fault slow_subscriber_delay delays the deliveries to one subscriber, the connection
that has held a subscription (to any topic) the longest -- the first to subscribe, while
it stays subscribed; when it has left every topic the next longest-held one is the slow one.
"""
from __future__ import annotations


class TopicError(ValueError):
    pass


def topic_of(command: dict) -> str:
    topic = command.get("topic")
    if not isinstance(topic, str) or not topic:
        raise TopicError(f"{command.get('op')}: topic must be a non-empty string, "
                         f"got {topic!r}")
    return topic


class Topics:
    """The server's topics: subscribers in order of subscription, and their counts."""

    def __init__(self, stats, faults):
        self.stats, self.faults = stats, faults
        self.subscribers: dict[str, dict] = {}  # topic -> {connection: None}, an ordered set
        self.held_by: dict = {}  # connection -> {topic: None}, in order of first subscription

    def subscribe(self, connection, topic: str) -> int:
        subscribers = self.subscribers.setdefault(topic, {})
        if connection not in subscribers:
            subscribers[connection] = None
            self.held_by.setdefault(connection, {})[topic] = None
        counts = self.stats.topic(topic)
        counts.subscribers = len(subscribers)
        return counts.subscribers

    def unsubscribe(self, connection, topic: str) -> int:
        subscribers = self.subscribers.get(topic, {})
        if subscribers.pop(connection, 0) is None:
            topics = self.held_by[connection]
            del topics[topic]
            if not topics:
                del self.held_by[connection]
        if not subscribers:
            self.subscribers.pop(topic, None)
        counts = self.stats.topic(topic)
        counts.subscribers = len(subscribers)
        return counts.subscribers

    def leave(self, connection) -> None:
        """The connection closed: out of every topic it held."""
        for topic in list(self.held_by.get(connection, ())):
            self.unsubscribe(connection, topic)

    def slow_subscriber(self):
        """The connection slow_subscriber_delay applies to (None: no subscriber)."""
        return next(iter(self.held_by), None)

    def publish(self, publisher, topic: str) -> list[tuple]:
        """Who gets a publish: [(subscriber, extra delay in seconds, topic counts)]."""
        counts = self.stats.topic(topic)
        counts.published += 1
        subscribers = self.subscribers.get(topic, ())
        slow_s = self.faults.slow_subscriber_delay
        slow = self.slow_subscriber() if slow_s else None
        deliveries = [(subscriber, slow_s if subscriber is slow else 0.0, counts)
                      for subscriber in subscribers if subscriber is not publisher]
        if not deliveries:
            counts.unheard += 1
        return deliveries

    def describe(self) -> dict:
        return {topic: len(subscribers) for topic, subscribers in self.subscribers.items()}
