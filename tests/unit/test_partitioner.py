from aiokafka.partitioner import DefaultPartitioner

from ingest_gateway.partitioner import partition_of


def test_same_partition_as_the_kafka_default_partitioner() -> None:
    partitions = list(range(12))
    for i in range(2000):
        key = f"tenant_{i % 7}:user_{i}".encode()
        assert partition_of(key, len(partitions)) == DefaultPartitioner()(key, partitions, partitions)
        assert partition_of(key, len(partitions)) == DefaultPartitioner()(key, partitions, partitions)
