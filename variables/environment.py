"""Picks the figures the way the seed does, from the environment:

    CI=true                 -> variables/ci.py
    ENVIRONMENT=production  -> variables/production.py   (also: prod)
    ENVIRONMENT=ci / dev    -> that file;  default dev
    QUICK_MODE=true         -> only tests tagged `quick` run (the others are skipped)

resources/throughput.resource imports this file; a `--variablefile variables/<env>.py` on
the command line overrides it, as command-line variables always do in Robot Framework.
"""
import os
import runpy
from pathlib import Path

FILES = {"dev": "dev.py", "development": "dev.py", "ci": "ci.py",
         "production": "production.py", "prod": "production.py"}


def chosen_environment() -> str:
    if os.environ.get("CI", "").lower() == "true":
        return "ci"
    name = os.environ.get("ENVIRONMENT", "dev").strip().lower() or "dev"
    if name not in FILES:
        raise ValueError(f"ENVIRONMENT={name!r} is not one of {sorted(set(FILES))}")
    return name


def get_variables() -> dict:
    folder = Path(__file__).resolve().parent
    path = folder / FILES[chosen_environment()]
    figures = runpy.run_path(str(path))
    return {name: value for name, value in figures.items() if name.isupper()}
