"""The traffic patterns: one module (or package) each, with its driver, its figures and its
declaration (results/patterns.py). Importing this package imports every module in it, so
that each pattern has registered itself: a new pattern is a new module here, nothing else.
"""
import importlib
import pkgutil

for _module in pkgutil.walk_packages(__path__, __name__ + "."):
    importlib.import_module(_module.name)
