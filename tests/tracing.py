"""Peak memory of a call, for the tests that hold graphdsl to one copy of each value."""
import gc
import tracemalloc


def peak_bytes(fn) -> int:
    """Peak bytes allocated while ``fn`` runs (tracemalloc sees numpy's buffers too)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
