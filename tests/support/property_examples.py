"""How many examples a hypothesis property test tries, per run.

- hypothesis's default profile (what `./run tests` and CI use): its own defaults, and a test
  that names its count (`examples(60)`) tries that many.
- `quick`, registered by tests/conftest.py, loaded by `./run quick`
  (`--hypothesis-profile=quick`): at most `QUICK_EXAMPLES` examples per property test that
  takes hypothesis's default or names its count through `examples()`, so the slow
  properties (tests/reports/test_merge_by_kind.py) cost seconds, not half a minute, in the
  quick loop. The full count still runs in `./run tests`.

A test names its count with `settings(max_examples=examples(60), ...)`; a plain
`max_examples=60` overrides either profile (fine for a property that is quick anyway)."""
from __future__ import annotations

from hypothesis import settings

QUICK_EXAMPLES = 20


def register() -> None:
    settings.register_profile("quick", max_examples=QUICK_EXAMPLES)


def examples(full: int) -> int:
    """`full`, or at most `QUICK_EXAMPLES` under the quick profile (read when the test
    module is imported, after pytest has loaded the profile)."""
    if settings.get_current_profile_name() == "quick":
        return min(full, QUICK_EXAMPLES)
    return full
