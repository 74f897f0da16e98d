"""Reads a surge latency.hlog with HdrHistogram's own Python implementation
(the `hdrhistogram` package, independent of surge's Rust code) and prints,
per tag, the count, min, max and mean of all its intervals added together,
as JSON. (Percentiles are left out: implementations round a percentile's
rank differently, so they may differ by one bucket.)"""
import json
import sys

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

HOUR_US = 3600 * 1000 * 1000

reader = HistogramLogReader(sys.argv[1], HdrHistogram(1, HOUR_US, 3))
totals = {}
while True:
    interval = reader.get_next_interval_histogram()
    if interval is None:
        break
    tag = interval.get_tag()
    totals.setdefault(tag, HdrHistogram(1, HOUR_US, 3)).add(interval)

json.dump(
    {
        tag: {
            "count": h.get_total_count(),
            "min": h.get_min_value(),
            "max": h.get_max_value(),
            "mean": h.get_mean_value(),
        }
        for tag, h in totals.items()
    },
    sys.stdout,
)
