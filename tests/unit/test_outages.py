"""Outage rules without servers: what counts as an outage, the quarantine of a Redis that lost
its data, and the settings that tune them."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
import sqlalchemy.exc

from authserver.config import ConfigError, Settings, load_settings
from authserver.outages import RedisDataLost, RedisEpoch, as_outage, quarantine_seconds


class FakeConnection:
    """Just enough of a redis-py connection for the epoch check: GET and SET NX."""

    def __init__(self, data: dict[str, str]) -> None:
        self.data = data
        self._reply: Any = None

    def on_connect(self) -> None:
        pass

    def send_command(self, *args: str) -> None:
        if args[0] == "GET":
            self._reply = self.data.get(args[1])
        elif args[0] == "SET":
            assert args[3] == "NX"
            self._reply = None if args[1] in self.data else self.data.setdefault(args[1], args[2])

    def read_response(self) -> Any:
        return self._reply


def connect(epoch: RedisEpoch, data: dict[str, str]) -> None:
    epoch.on_connect(FakeConnection(data))  # type: ignore[arg-type]


def test_a_fresh_redis_gets_an_epoch_and_is_trusted() -> None:
    data: dict[str, str] = {}
    connect(RedisEpoch("cf", 360), data)
    assert json.loads(data["cf:epoch"])["until"] == 0
    connect(RedisEpoch("cf", 360), data)  # another worker, same Redis: fine


def test_a_redis_that_lost_its_data_is_refused_by_every_worker() -> None:
    data: dict[str, str] = {}
    worker, newcomer = RedisEpoch("cf", 360), RedisEpoch("cf", 360)
    connect(worker, data)
    data.clear()  # Redis restarted without AOF
    with pytest.raises(RedisDataLost) as lost:
        connect(worker, data)
    assert 355 < lost.value.until - time.time() <= 360
    with pytest.raises(RedisDataLost):
        connect(worker, data)
    with pytest.raises(RedisDataLost):
        connect(newcomer, data)  # a worker started after the loss learns it from Redis


def test_the_quarantine_ends_when_its_time_has_passed_or_an_operator_says_so() -> None:
    data = {"cf:epoch": json.dumps({"id": "x", "until": time.time() - 1})}
    connect(RedisEpoch("cf", 360), data)
    data["cf:epoch"] = json.dumps({"id": "y", "until": time.time() + 60})
    with pytest.raises(RedisDataLost):
        connect(RedisEpoch("cf", 360), data)
    data["cf:epoch"] = "operator"
    connect(RedisEpoch("cf", 360), data)


def test_quarantine_zero_turns_the_check_off() -> None:
    data: dict[str, str] = {}
    worker = RedisEpoch("cf", 0)
    connect(worker, data)
    data.clear()
    connect(worker, data)


def test_the_quarantine_covers_the_longest_replay_window() -> None:
    assert quarantine_seconds(Settings()) == 360  # a client assertion's 5 min + leeway
    assert quarantine_seconds(Settings(dpop_leeway=300)) == 605  # DPoP iat window + margin
    assert quarantine_seconds(Settings(rate_limit_window=3600)) == 3600
    assert quarantine_seconds(Settings(redis_loss_quarantine=5)) == 5


@pytest.mark.parametrize(
    ("error", "store"),
    [
        (redis.exceptions.ConnectionError("refused"), "redis"),
        (redis.exceptions.TimeoutError("frozen"), "redis"),
        (redis.exceptions.BusyLoadingError("loading the AOF"), "redis"),
        (sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("gone")), "database"),
        (sqlalchemy.exc.TimeoutError("pool exhausted"), "database"),
        (ValueError("a bug"), None),
        (redis.exceptions.ResponseError("WRONGTYPE"), None),
    ],
)
def test_only_store_outages_become_503(error: Exception, store: str | None) -> None:
    outage = as_outage(error)
    assert (outage.store if outage else None) == store


def test_outage_settings_are_validated() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"CHATFRAME_METRICS_TOKEN": "short", "CHATFRAME_REDIS_LOSS_QUARANTINE": "-1"})
    assert "CHATFRAME_METRICS_TOKEN" in str(info.value)
    assert "CHATFRAME_REDIS_LOSS_QUARANTINE" in str(info.value)
    settings = load_settings(
        {"CHATFRAME_METRICS_TOKEN": "t" * 20, "CHATFRAME_REDIS_LOSS_QUARANTINE": "0"}
    )
    assert settings.metrics_token == "t" * 20 and settings.redis_loss_quarantine == 0
