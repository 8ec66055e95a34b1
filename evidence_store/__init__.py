# parsers sets OPENBLAS_NUM_THREADS: imported first, so it is set before any module
# here loads numpy.
import parsers  # noqa: F401
