"""Settings for the benchmark server: kefu's own settings plus two bare baseline views."""

from kefu.config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
