"""Reading an exact offset range of one partition, to re-form a batch after a crash or rebalance."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from stream_processors.pipeline import Delivery


class KafkaRangeReader:
    """A group-less consumer (it commits nothing) that reads ``first..last`` of one partition."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap

    async def read(self, topic: str, partition: int, first: int, last: int) -> list[Delivery]:
        tp = TopicPartition(topic, partition)
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign([tp])
            consumer.seek(tp, first)
            deliveries: list[Delivery] = []
            while not deliveries or deliveries[-1].offset < last:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
                for record in batch.get(tp, []):
                    if record.offset > last:
                        break
                    headers = {str(k): bytes(v) for k, v in record.headers or () if v is not None}
                    deliveries.append(
                        Delivery(topic, partition, record.offset, record.value, record.key, headers)
                    )
            return deliveries
        finally:
            await consumer.stop()
