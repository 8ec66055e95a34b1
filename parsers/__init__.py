"""Format parsers: bytes in, typed records out. No database, no network."""

import os

# numpy and scipy (image hashes, frequency analysis) load OpenBLAS, which starts a
# thread per core that spins after each call; Conduct parallelises with processes,
# so those threads only take CPU from the parser and database writer beside them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
