"""The version of the package: the distribution, the agents' handshake and libdoc read it."""
__version__ = "0.2.0"
