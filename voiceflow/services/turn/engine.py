"""The audio end-of-turn model contract: the endpointer's second opinion, from the sound alone."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["TURN_MODEL_RATE", "TurnModel"]

#: the rate a turn model takes its audio at
TURN_MODEL_RATE = 16000


class TurnModel(Protocol):
    """P(the caller's turn is over) for the turn's audio so far (16 kHz float32 mono, any length).

    Blocking (CPU-bound): callers run it off the event loop. One instance serves a whole process.
    """

    def probability(self, audio: npt.NDArray[np.float32]) -> float: ...
