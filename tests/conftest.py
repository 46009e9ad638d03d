"""Shared test settings.

Hypothesis profiles: 'default' keeps the whole suite within a few minutes on two
cores; set HYPOTHESIS_PROFILE=thorough for a longer search.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


