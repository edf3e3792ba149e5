import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest

# compiled code goes to a cache of this test run, not the user's (~/.cache/graphc)
if "GRAPHC_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="graphc-test-cache-")
    os.environ["GRAPHC_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
