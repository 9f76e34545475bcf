"""``analytics loadgen``: seeded synthetic traffic for every stream, posted to a gateway over HTTP.

:mod:`.traffic` is the pure model of the product's users, :mod:`.lms_platform` the pure model of a
learning platform (also the LMS tests' data), :mod:`.runner` sends them (how fast, how many at once) and
:mod:`.demo` uses both to fill an empty embedded store with weeks of history.
"""
