"""What every tool needs: the database, the business, the time, and a random source."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from voiceflow.db import Database
from voiceflow.processors.tools.business import BusinessConfig


@dataclass
class ToolContext:
    db: Database
    config: BusinessConfig = field(default_factory=BusinessConfig)
    #: wall-clock source; naive values are taken as business-local time (inject a fixed one in tests)
    now_source: Callable[[], datetime] | None = None
    rng: random.Random = field(default_factory=random.Random)

    def now(self) -> datetime:
        """Now, as an aware datetime in the business timezone."""
        return self.config.clock(self.now_source)()
