"""Where things are: the checkout (ROOT) and the library's folder (LIBRARIES). Import them
from here, not from a conftest: several folders have a conftest.py, so `conftest` names
none of them for sure."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = ROOT / "libraries"
