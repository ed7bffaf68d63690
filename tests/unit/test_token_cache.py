"""The Bearer token cache, aged on an injected clock."""

from __future__ import annotations

import pytest

from kitops.registry.auth import TokenCache
from tests.fakeclock import FakeClock

KEY = ("https://auth.example.com/token", "registry.example.com", "repository:a/b:pull")


@pytest.mark.parametrize(("expires_in", "kept"), [(300, 290.0), (60, 50.0), (11, 1.0), (5, 1.0), (0, 1.0)])
def test_a_token_is_kept_until_ten_seconds_before_it_expires_and_at_least_one_second(
    expires_in: float, kept: float
) -> None:
    clock = FakeClock()
    cache = TokenCache(clock)
    cache.put(*KEY, "tok", expires_in)
    clock.advance(kept - 0.25)
    assert cache.get(*KEY) == "tok"
    clock.advance(0.25)
    assert cache.get(*KEY) is None


def test_tokens_are_kept_per_realm_service_and_scope_and_can_be_dropped() -> None:
    clock = FakeClock()
    cache = TokenCache(clock)
    realm, service, scope = KEY
    cache.put(realm, service, scope, "pull", 300)
    cache.put(realm, service, "repository:a/b:pull,push", "push", 30)
    cache.put(realm, "other.example.com", scope, "other", 300)
    assert [cache.get(realm, service, scope), cache.get(realm, service, "repository:a/b:pull,push")] == [
        "pull",
        "push",
    ]
    assert (
        cache.get(realm, "other.example.com", scope) == "other"
        and cache.get("https://x/token", service, scope) is None
    )
    clock.advance(20)  # the push token's 20 s are up; the others have 290 s
    assert (
        cache.get(realm, service, "repository:a/b:pull,push") is None
        and cache.get(realm, service, scope) == "pull"
    )
    cache.drop(realm, service, scope)
    assert (
        cache.get(realm, service, scope) is None and cache.get(realm, "other.example.com", scope) == "other"
    )


def test_a_token_put_again_lives_from_then() -> None:
    clock = FakeClock()
    cache = TokenCache(clock)
    cache.put(*KEY, "old", 300)
    clock.advance(200)
    cache.put(*KEY, "new", 300)
    clock.advance(200)
    assert cache.get(*KEY) == "new"
