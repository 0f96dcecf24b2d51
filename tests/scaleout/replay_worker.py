"""Child process of the replay-cache test: offers the same jti's as its siblings, in its own order.

``python -m tests.scaleout.replay_worker BACKEND URL ISS N SEED READY_DIR PARTIES`` prints (JSON)
the jti's this process was the first to use. BACKEND is ``db`` (DbReplayCache) or ``redis``.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cds_app.db.security import DbReplayCache
from cds_app.db.session import make_engine
from cds_app.hooks.jwt_auth import RedisReplayCache, ReplayCache
from tests.scaleout.barrier import start_together


def main(argv: list[str]) -> None:
    backend, url, iss, count, seed, ready_dir, parties = argv
    cache: ReplayCache = (
        DbReplayCache(make_engine(url)) if backend == "db" else RedisReplayCache(url)
    )
    jtis = [f"jti-{index:04d}" for index in range(int(count))]
    random.Random(int(seed)).shuffle(jtis)
    expires = datetime.now(UTC) + timedelta(minutes=5)
    start_together(Path(ready_dir), int(parties))
    accepted = [jti for jti in jtis if cache.first_use(iss, jti, expires)]
    sys.stdout.write(json.dumps(accepted))


if __name__ == "__main__":
    main(sys.argv[1:])
