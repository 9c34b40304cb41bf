"""The production store: Redis, shared by several `dozor run` processes.

Everything that must be atomic (a poll's commit, claiming from the outbox, retries, locks,
moving a destination) is one Lua script, so it is also one round trip. Key names live in
`keys.py`, the scripts in `redis_scripts.py`, JSON in `codec.py`.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, get_args
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.models import Alert, Chat, Delivery, Feed, FeedState, OutboxEntry, Subscription, Topic
from bot.ratelimit import Rules
from bot.store import codec
from bot.store import redis_scripts as lua
from bot.store.base import SENDING, StoreError
from bot.store.keys import DEFAULT_PREFIX, Keys

_CHUNK = 500  # members a command, so no Lua `unpack` or reply grows without bound


def redact(url: str) -> str:
    """The URL fit for a log line or an error: any password replaced by `***`."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable Redis URL>"
    netloc = parts.netloc
    if password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostinfo}"
    query = parts.query
    if "password" in query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _reason(exc: BaseException) -> str:
    """The root cause in a few words ("Connection refused"), not a wrapped traceback."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return os.strerror(seen.errno)
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


def _num(value: float) -> str:
    """A float as Redis and Lua both read it back exactly."""
    return repr(float(value))


class RedisStore:
    """`Store` on Redis. Safe for several processes; build it with `RedisStore.open`."""

    def __init__(self, client: Redis, *, keys: Keys | None = None, where: str = "Redis") -> None:
        self._redis = client
        self._keys = keys or Keys()
        self._where = where
        self._commit = client.register_script(lua.COMMIT)
        self._claim = client.register_script(lua.CLAIM)
        self._retry = client.register_script(lua.RETRY)
        self._extend = client.register_script(lua.EXTEND)
        self._release = client.register_script(lua.RELEASE)
        self._purge = client.register_script(lua.PURGE)
        self._lock = client.register_script(lua.LOCK)
        self._unlock = client.register_script(lua.UNLOCK)
        self._drop_digest = client.register_script(lua.DROP_DIGEST)
        self._purge_records = client.register_script(lua.PURGE_RECORDS)
        self._save_feed = client.register_script(lua.SAVE_FEED)
        self._outbox_for = client.register_script(lua.OUTBOX_FOR)
        self._take_budget = client.register_script(lua.TAKE_BUDGET)
        self._move = client.register_script(lua.MOVE_DESTINATION)

    @classmethod
    async def open(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> RedisStore:
        """Connect and check that Redis answers; StoreError (password-free) if it does not."""
        where = redact(url)
        try:
            client = Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=5,
                socket_timeout=30,
                # ride out a Redis restart; a script run twice loses and duplicates nothing
                retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
            )
        except ValueError as exc:
            raise StoreError(f"invalid Redis URL {where}: {exc}") from None
        store = cls(client, keys=Keys(prefix), where=where)
        try:
            await store.ping()
        except StoreError:
            await store.close()
            raise
        return store

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreError(f"cannot reach Redis at {self._where}: {_reason(exc)}") from exc
        except RedisError as exc:
            raise StoreError(f"Redis at {self._where} failed to {doing}: {exc}") from exc

    async def close(self) -> None:
        await self._redis.aclose()

    async def ping(self) -> None:
        with self._errors("answer PING"):
            await self._redis.ping()

    # --- feed state -------------------------------------------------------------------------
    async def feed_state(self, feed_id: str) -> FeedState:
        with self._errors("read a feed state"):
            text = await self._redis.get(self._keys.feed_state(feed_id))
        return codec.decode_feed_state(text)

    async def feed_states(self, feed_ids: Sequence[str]) -> dict[str, FeedState]:
        if not feed_ids:
            return {}
        with self._errors("read feed states"):
            texts = await self._redis.mget([self._keys.feed_state(f) for f in feed_ids])
        return {f: codec.decode_feed_state(t) for f, t in zip(feed_ids, texts, strict=True)}

    async def save_feed_state(self, feed_id: str, state: FeedState) -> None:
        with self._errors("save a feed state"):
            await self._redis.set(self._keys.feed_state(feed_id), codec.encode_feed_state(state))

    # --- seen items and the poll's commit ---------------------------------------------------
    async def unseen(
        self, feed_id: str, keys: Sequence[str], *, now: float | None = None
    ) -> set[str]:
        if not keys:
            return set()
        seen = self._keys.seen(feed_id)
        with self._errors("check seen items"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for start in range(0, len(keys), _CHUNK):
                    pipe.zmscore(seen, list(keys[start : start + _CHUNK]))
                replies = await pipe.execute()
        scores = [score for reply in replies for score in reply]
        return {
            key
            for key, score in zip(keys, scores, strict=True)
            if score is None or (now is not None and float(score) <= now)
        }

    async def commit_poll(
        self,
        feed_id: str,
        keys: Sequence[str],
        alerts: Sequence[Alert],
        state: FeedState,
        *,
        now: float,
        keep_seconds: float,
    ) -> list[Alert]:
        k = self._keys
        script_keys = [
            k.seen(feed_id),
            k.feed_state(feed_id),
            k.outbox_due(),
            k.outbox_data(),
            k.outbox_seq(),
            k.seen_index(),
            k.links_index(),
            k.digest_index(),
        ]
        index: dict[str, int] = {}

        def key_index(name: str) -> int:
            if name not in index:
                script_keys.append(name)
                index[name] = len(script_keys)  # Lua counts from 1
            return index[name]

        marked = list(dict.fromkeys([*keys, *(a.id for a in alerts)]))
        args: list[Any] = [_num(now), _num(now + keep_seconds), codec.encode_feed_state(state)]
        args += [len(marked), *marked]
        for alert in alerts:
            links = key_index(k.links(alert.to, alert.topic, alert.delivery))
            target = (
                0 if alert.delivery == "instant" else key_index(k.digest(alert.to, alert.topic))
            )
            args += [alert.id, links, alert.dedup_link, target, codec.encode_alert(alert)]
        with self._errors("commit a poll"):
            picked = await self._commit(keys=script_keys, args=args)
        return [alerts[int(i)] for i in picked]

    async def purge(self, now: float) -> int:
        k = self._keys
        forgotten = 0
        with self._errors("purge expired items"):
            for index in (k.seen_index(), k.links_index()):
                names = sorted(await self._redis.smembers(index))
                for start in range(0, len(names), _CHUNK):
                    chunk = names[start : start + _CHUNK]
                    forgotten += int(await self._purge(keys=[index, *chunk], args=[_num(now)]))
            forgotten += int(
                await self._purge_records(keys=[k.records_expiry(), k.records()], args=[_num(now)])
            )
        return forgotten

    # --- outbox -------------------------------------------------------------------------------
    async def claim(self, *, now: float, lease: float, limit: int) -> list[OutboxEntry]:
        if limit <= 0:
            return []
        k = self._keys
        with self._errors("claim from the outbox"):
            flat = await self._claim(
                keys=[k.outbox_due(), k.outbox_data(), k.outbox_attempts(), k.outbox_errors()],
                args=[_num(now), _num(now + lease), limit, SENDING],
            )
        return [
            OutboxEntry(
                id=flat[i],
                alert=codec.decode_alert(flat[i + 1]),
                attempts=int(flat[i + 2]),
                lease_until=float(_num(now + lease)),
            )
            for i in range(0, len(flat), 3)
        ]

    async def extend(self, leases: Mapping[str, float], *, until: float) -> set[str]:
        if not leases:
            return set()
        ids = list(leases)
        with self._errors("renew outbox leases"):
            renewed = await self._extend(
                keys=[self._keys.outbox_due()],
                args=[_num(until), *(x for i in ids for x in (i, _num(leases[i])))],
            )
        return {str(entry_id) for entry_id in renewed}

    async def ack(self, entry_id: str) -> None:
        k = self._keys
        with self._errors("ack an outbox entry"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrem(k.outbox_due(), entry_id)
                pipe.hdel(k.outbox_data(), entry_id)
                pipe.hdel(k.outbox_attempts(), entry_id)
                pipe.hdel(k.outbox_errors(), entry_id)
                await pipe.execute()

    async def retry(
        self, entry_id: str, *, not_before: float, error: str, failed: bool = True
    ) -> None:
        k = self._keys
        with self._errors("reschedule an outbox entry"):
            await self._retry(
                keys=[k.outbox_due(), k.outbox_data(), k.outbox_attempts(), k.outbox_errors()],
                args=[entry_id, _num(not_before), error, int(failed)],
            )

    async def release(self, to: str, reasons: Sequence[str], *, now: float) -> int:
        if not reasons:
            return 0
        k = self._keys
        with self._errors("release held alerts"):
            released = await self._release(
                keys=[k.outbox_due(), k.outbox_data(), k.outbox_errors()],
                args=[_num(now), codec.field_text("to", to), *reasons],
            )
        return int(released)

    async def outbox_depth(self) -> int:
        with self._errors("count the outbox"):
            return int(await self._redis.zcard(self._keys.outbox_due()))

    async def outbox_for(self, to: str) -> int:
        """Reads every entry inside one script: O(outbox), one round trip."""
        with self._errors("count a destination's outbox"):
            count = await self._outbox_for(
                keys=[self._keys.outbox_data()], args=[codec.field_text("to", to)]
            )
        return int(count)

    # --- digest buffer --------------------------------------------------------------------
    async def digest_alerts(self, to: str, topic: str) -> list[Alert]:
        with self._errors("read a digest buffer"):
            texts = await self._redis.lrange(self._keys.digest(to, topic), 0, -1)
        return [codec.decode_alert(t) for t in texts]

    async def drop_digest(self, to: str, topic: str, count: int) -> None:
        if count <= 0:
            return
        with self._errors("trim a digest buffer"):
            await self._drop_digest(
                keys=[self._keys.digest(to, topic), self._keys.digest_index()], args=[count]
            )

    # --- topics and subscriptions ---------------------------------------------------------
    async def save_topic(self, topic: Topic) -> None:
        with self._errors("save a topic"):
            await self._redis.hset(
                self._keys.topics(),
                codec.topic_id(topic.owner, topic.name),
                codec.encode_topic(topic),
            )

    async def delete_topic(self, owner: str | None, name: str) -> bool:
        with self._errors("delete a topic"):
            return bool(await self._redis.hdel(self._keys.topics(), codec.topic_id(owner, name)))

    async def topics(self) -> list[Topic]:
        with self._errors("read topics"):
            texts = await self._redis.hvals(self._keys.topics())
        return codec.sorted_topics(codec.decode_topic(t) for t in texts)

    async def save_subscription(self, sub: Subscription) -> None:
        with self._errors("save a subscription"):
            await self._redis.hset(
                self._keys.subscriptions(),
                codec.subscription_id(sub.to, sub.topic),
                codec.encode_subscription(sub),
            )

    async def delete_subscription(self, to: str, topic: str) -> bool:
        field = codec.subscription_id(to, topic)
        with self._errors("delete a subscription"):
            return bool(await self._redis.hdel(self._keys.subscriptions(), field))

    async def subscriptions(self) -> list[Subscription]:
        with self._errors("read subscriptions"):
            texts = await self._redis.hvals(self._keys.subscriptions())
        return codec.sorted_subscriptions(codec.decode_subscription(t) for t in texts)

    # --- chats' private feeds and settings ------------------------------------------------
    async def save_feed(self, feed: Feed) -> None:
        field = codec.private_feed_id(feed)
        k = self._keys
        with self._errors("save a feed"):
            await self._save_feed(
                keys=[k.feeds(), k.feeds_order(), k.feeds_seq()],
                args=[field, codec.encode_feed(feed)],
            )

    async def delete_feed(self, owner: str, url: str) -> bool:
        field = codec.feed_id(owner, url)
        with self._errors("delete a feed"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hdel(self._keys.feeds(), field)
                pipe.zrem(self._keys.feeds_order(), field)
                deleted, _ = await pipe.execute()
        return bool(deleted)

    async def feeds(self) -> list[Feed]:
        with self._errors("read feeds"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrange(self._keys.feeds_order(), 0, -1)
                pipe.hgetall(self._keys.feeds())
                order, texts = await pipe.execute()
        return [codec.decode_feed(texts[field]) for field in order if field in texts]

    async def chat(self, to: str) -> Chat:
        with self._errors("read a chat's settings"):
            text = await self._redis.hget(self._keys.chats(), to)
        return Chat(to) if text is None else codec.decode_chat(text)

    async def save_chat(self, chat: Chat) -> None:
        with self._errors("save a chat's settings"):
            await self._redis.hset(self._keys.chats(), chat.to, codec.encode_chat(chat))

    async def chats(self) -> list[Chat]:
        with self._errors("read chats' settings"):
            texts = await self._redis.hvals(self._keys.chats())
        return codec.sorted_chats(codec.decode_chat(t) for t in texts)

    async def move_destination(self, old: str, new: str) -> int:
        if old == new:
            return 0
        k = self._keys
        script_keys = [
            *(k.subscriptions(), k.topics(), k.feeds(), k.feeds_order(), k.feeds_seq()),
            *(k.chats(), k.links_index(), k.digest_index(), k.outbox_data()),
        ]
        args = [old, new, codec.owned_head(old), codec.owned_head(new)]
        for field in ("to", "owner"):
            args += [codec.field_text(field, old), codec.field_text(field, new)]
        args += [k.digest(old, ""), k.digest(new, "")]
        for delivery in get_args(Delivery):
            args += [k.links(old, "", delivery), k.links(new, "", delivery)]
        with self._errors("move a destination"):
            return int(await self._move(keys=script_keys, args=args))

    # --- small records and story fingerprints ---------------------------------------------
    async def get_record(self, name: str, *, now: float) -> str | None:
        with self._errors("read a record"):
            text = await self._redis.hget(self._keys.records(), name)
        if text is None:
            return None
        value, expires = json.loads(text)
        return None if expires is not None and expires <= now else str(value)

    async def put_record(self, name: str, value: str, *, expires: float | None = None) -> None:
        k = self._keys
        with self._errors("save a record"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(k.records(), name, json.dumps([value, expires]))
                if expires is None:
                    pipe.zrem(k.records_expiry(), name)
                else:
                    pipe.zadd(k.records_expiry(), {name: expires})
                await pipe.execute()

    async def add_stories(self, rows: Sequence[tuple[float, str]]) -> None:
        if not rows:
            return
        with self._errors("save story fingerprints"):
            await self._redis.zadd(self._keys.stories(), {row: at for at, row in rows})

    async def stories_since(self, since: float) -> list[tuple[float, str]]:
        with self._errors("read story fingerprints"):
            found = await self._redis.zrangebyscore(
                self._keys.stories(), _num(since), "+inf", withscores=True
            )
        return [(float(pair[1]), str(pair[0])) for pair in found]

    async def forget_stories(self, before: float) -> int:
        with self._errors("forget old story fingerprints"):
            return int(
                await self._redis.zremrangebyscore(self._keys.stories(), "-inf", f"({_num(before)}")
            )

    async def take_budget(self, rules: Rules, now: float) -> float:
        """A send under `rules`, counted for every replica (see `bot.ratelimit.Take`)."""
        keys = [self._keys.budget(key, limit.count, limit.window) for key, limit in rules]
        args: list[str | int] = [_num(now), uuid.uuid4().hex]
        for _, limit in rules:
            args += [limit.count, _num(limit.window)]
        with self._errors("take a send budget"):
            wait = await self._take_budget(keys=keys, args=args)
        return float(wait)

    # --- coordination ---------------------------------------------------------------------
    async def try_lock(self, name: str, owner: str, *, ttl: float, now: float) -> bool:
        ttl_ms = max(1, math.ceil(ttl * 1000))
        with self._errors("take a lock"):
            took = await self._lock(
                keys=[self._keys.lock(name)], args=[owner, _num(now), _num(now + ttl), ttl_ms]
            )
        return bool(took)

    async def unlock(self, name: str, owner: str) -> None:
        with self._errors("release a lock"):
            await self._unlock(keys=[self._keys.lock(name)], args=[owner])
