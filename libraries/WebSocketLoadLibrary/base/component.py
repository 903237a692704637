"""What every keyword component shares: a back reference to the library and its state."""
from __future__ import annotations

from robot.api import logger


class LibraryComponent:
    def __init__(self, library):
        self.library = library

    @property
    def state(self):
        return self.library.state

    @staticmethod
    def console(line: str) -> None:
        """Progress for the person watching the run; ASCII only, for any console."""
        logger.console(line.encode("ascii", "replace").decode("ascii"))
