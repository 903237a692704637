"""Every test in this folder is an acceptance test: it runs Robot Framework or pabot as a
subprocess (or a whole installed package, a real Prometheus, network namespaces), so it takes
seconds to minutes. They carry the marker `acceptance`, which `./run quick` leaves out."""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)   # before -m selects on the marker
def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.acceptance)
