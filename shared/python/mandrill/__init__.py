"""Mandrill's pure-Python asyncio client (docs/clients.md, "Python client").

    pub = await Publisher.connect(broker="tcp://127.0.0.1:5555")
    await pub.publish("restarts", b"restart cattle-x7q2")

    consumer = Consumer(broker="tcp://127.0.0.1:5555", queues=["restarts"], handler=handle)
    await consumer.run()
"""
from .consumer import Consumer, Message, retry_delay_ms
from .errors import (BrokerFull, ClosedError, ConfigurationError, InternalError, InvalidArgument,
                     LeaseLost, LimitReached, MandrillError, NotReady, PermissionDenied,
                     ProtocolError, PublishTimeout, QueueFull, ShuttingDown, StorageFailed,
                     TooLarge, UnknownQueue)
from .publisher import Publisher

__all__ = [
    "Publisher", "Consumer", "Message", "retry_delay_ms",
    "MandrillError", "ProtocolError", "TooLarge", "InvalidArgument", "QueueFull", "UnknownQueue",
    "LeaseLost", "NotReady", "StorageFailed", "ShuttingDown", "BrokerFull", "LimitReached",
    "PermissionDenied", "InternalError", "PublishTimeout", "ClosedError", "ConfigurationError",
]
