"""Leave the shared RabbitMQ as it was: delete what a test's broker client declared."""

from __future__ import annotations

import aio_pika

from kinoteka.infra.broker import Broker
from kinoteka.infra.broker.rabbitmq import RabbitBroker


async def delete_declared(broker: Broker) -> None:
    if not isinstance(broker, RabbitBroker):
        return
    connection = await aio_pika.connect(broker.url)
    try:
        channel = await connection.channel()
        for name in sorted(broker.declared):
            await channel.queue_delete(name)
        await channel.exchange_delete(broker.prefix)
    finally:
        await connection.close()
