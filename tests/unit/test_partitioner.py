from aiokafka.partitioner import DefaultPartitioner

from ingest_gateway.partitioner import cached_default_partitioner


def test_same_partition_as_the_kafka_default_partitioner() -> None:
    partitions = list(range(12))
    for i in range(2000):
        key = f"tenant_{i % 7}:user_{i}".encode()
        assert cached_default_partitioner(key, partitions, partitions) == DefaultPartitioner()(
            key, partitions, partitions
        )
        assert cached_default_partitioner(key, partitions, partitions) == DefaultPartitioner()(
            key, partitions, partitions
        )


def test_keyless_messages_go_to_an_available_partition() -> None:
    assert cached_default_partitioner(None, [0, 1, 2], [2]) == 2
