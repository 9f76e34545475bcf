"""``analytics loadgen``: seeded synthetic traffic for every stream, posted to a gateway over HTTP.

:mod:`.traffic` is the pure model (what users do), :mod:`.runner` sends it (how fast, how many at once)
and :mod:`.demo` uses both to fill an empty embedded store with weeks of history.
"""
