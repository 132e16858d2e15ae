"""Keep pytest (``--doctest-modules``) out of the producer scripts: they are programs run by
hand to regenerate the data, and importing ``producers/locustfile.py`` would import Locust,
which monkey-patches the standard library with gevent for the whole test session."""

collect_ignore = ["producers"]
