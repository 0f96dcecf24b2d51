"""Child process of the replay-cache test: offers the same jti's as its siblings, in its own order.

``python -m tests.scaleout.replay_worker BACKEND URL ISS N SEED START`` prints (JSON) the jti's this
process was the first to use. BACKEND is ``db`` (DbReplayCache) or ``redis`` (RedisReplayCache).
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from cds_app.db.security import DbReplayCache
from cds_app.db.session import make_engine
from cds_app.hooks.jwt_auth import RedisReplayCache, ReplayCache


def main(argv: list[str]) -> None:
    backend, url, iss, count, seed, start = argv
    cache: ReplayCache = (
        DbReplayCache(make_engine(url)) if backend == "db" else RedisReplayCache(url)
    )
    jtis = [f"jti-{index:04d}" for index in range(int(count))]
    random.Random(int(seed)).shuffle(jtis)
    expires = datetime.now(UTC) + timedelta(minutes=5)
    time.sleep(max(0.0, float(start) - time.time()))  # all siblings begin together
    accepted = [jti for jti in jtis if cache.first_use(iss, jti, expires)]
    sys.stdout.write(json.dumps(accepted))


if __name__ == "__main__":
    main(sys.argv[1:])
