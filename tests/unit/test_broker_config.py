"""What grump asks of each broker: queue types, priorities, confirms and where retries go."""

from __future__ import annotations

from typing import Any

import pytest

from grump.broker import is_amqp_url
from grump.celery.app import celery_config, create_celery
from grump.celery.queues import (
    ALL_QUEUES,
    api_priority,
    celery_priority,
    queue_of_routing_key,
)
from grump.settings import Settings

AMQP = "amqp://guest:guest@127.0.0.1:5672/grump"


def _settings(**values: Any) -> Settings:
    return Settings.model_validate({"database_url": "sqlite://", **values})


def test_only_amqp_urls_are_rabbitmq() -> None:
    assert is_amqp_url(AMQP) and is_amqp_url("amqps://h/v") and is_amqp_url("pyamqp://h//")
    assert not is_amqp_url("redis://127.0.0.1:6379/0")
    assert not is_amqp_url(None) and not is_amqp_url("memory://localhost/")


def test_quorum_queues_are_the_default_on_rabbitmq() -> None:
    config = celery_config(_settings(broker_url=AMQP))
    queues = {q.name: q for q in config["task_queues"]}
    assert set(queues) == set(ALL_QUEUES)
    for queue in queues.values():
        assert queue.queue_arguments == {"x-queue-type": "quorum"}
        assert queue.durable and queue.exchange.type == "topic"  # native delayed delivery
    assert config["task_default_queue_type"] == "quorum"
    assert config["task_create_missing_queue_type"] == "quorum"
    # Confirmed publishes: a job is accepted only once the broker has its message.
    assert config["broker_transport_options"] == {"confirm_publish": True}
    app = create_celery(_settings(broker_url=AMQP))
    assert app.amqp.queues["parse"].queue_arguments == {"x-queue-type": "quorum"}


def test_classic_queues_carry_priorities() -> None:
    config = celery_config(_settings(broker_url=AMQP, rabbitmq_queue_type="classic"))
    assert {q.name: q.queue_arguments for q in config["task_queues"]} == {
        name: {"x-max-priority": 9} for name in ALL_QUEUES
    }
    # A queue made on the fly (another tier's, from a worker) gets the same arguments.
    assert config["task_queue_max_priority"] == 9


def test_an_unknown_queue_type_is_refused() -> None:
    with pytest.raises(ValueError, match="rabbitmq_queue_type"):
        _settings(broker_url=AMQP, rabbitmq_queue_type="stream")


def test_redis_keeps_its_own_transport_options() -> None:
    config = celery_config(_settings(broker_url="redis://127.0.0.1:6379/0"))
    assert config["broker_transport_options"]["visibility_timeout"] == 3600
    assert "task_default_queue_type" not in config
    assert all(not q.queue_arguments for q in config["task_queues"])


def test_priorities_run_the_api_way_on_rabbitmq() -> None:
    assert [celery_priority(p, amqp=True) for p in (0, 5, 9)] == [0, 5, 9]
    assert [celery_priority(p) for p in (0, 5, 9)] == [9, 4, 0]
    for p in range(10):
        assert api_priority(celery_priority(p, amqp=True), amqp=True) == p
        assert api_priority(celery_priority(p)) == p


def test_a_retry_goes_back_to_the_queue_its_message_came_from() -> None:
    assert queue_of_routing_key("complete.economy") == "complete.economy"
    # Through RabbitMQ's delay exchanges the delay's bits come first.
    delayed = ".".join(["0"] * 27 + ["1"]) + ".complete.premium"
    assert queue_of_routing_key(delayed) == "complete.premium"
    assert queue_of_routing_key("0.1.parse") == "parse"
    assert queue_of_routing_key("") is None and queue_of_routing_key("other") is None
