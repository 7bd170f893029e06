"""What the transformers side of the generation benches (tests/oracles/models/*_bench_reference.py, run by
bench/*_bench.cpp through bench/support/bench_harness.cpp) measures the same way: resident memory and its
peak from /proc/self/status, bytes read from /proc/self/io, the page cache of a checkpoint, and timings."""
import glob
import os
import time


def status_kb(key):
    """kB of a /proc/self/status line such as VmHWM (peak RSS) or VmRSS; -1 where it is absent."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def io_counters():
    out = {}
    with open("/proc/self/io") as f:
        for line in f:
            k, v = line.split(":")
            out[k] = int(v)
    return out


def evict(folder):
    """Drops the checkpoint's clean pages from the page cache, so its reads reach storage again."""
    for p in glob.glob(os.path.join(folder, "*.safetensors")):
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def reset_peak_rss():
    """VmHWM reset to the current RSS (Linux >= 4.0); False where /proc does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakRss:
    """Peak-RSS growth from construction on (VmHWM after a reset, minus VmRSS then), in MiB; -1 where
    the peak cannot be reset."""

    def __init__(self):
        self.available = reset_peak_rss()
        self.baseline_kb = status_kb("VmRSS")

    def growth_mb(self):
        return (status_kb("VmHWM") - self.baseline_kb) / 1024.0 if self.available else -1.0


class Loading:
    """Measures loading a checkpoint folder: evicts it from the page cache, then peak RSS growth
    (kept running: peak.growth_mb() later is the peak through what followed) and bytes read."""

    def __init__(self, folder):
        evict(folder)
        self.io0 = io_counters()
        self.peak = PeakRss()

    def done(self):
        io1 = io_counters()
        return {"load_peak_rss_mb": self.peak.growth_mb(),
                "load_read_bytes": io1["read_bytes"] - self.io0["read_bytes"],
                "load_rchar": io1["rchar"] - self.io0["rchar"]}


def best_of_3(fn):
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def per_token_ms(generate, max_new_tokens):
    """Decode latency per token at batch 1: (t(max_new_tokens) - t(1)) / (max_new_tokens - 1), best of 3 each;
    generate(n) runs one request with n new tokens."""
    return (best_of_3(lambda: generate(max_new_tokens)) - best_of_3(lambda: generate(1))) / (max_new_tokens - 1) * 1000
