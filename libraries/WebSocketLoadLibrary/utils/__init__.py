"""Helpers of the keywords' arguments: the argument types Robot Framework converts
(`arguments`: Rate, Duration, ByteSize, Ratio, Percentile) and tokens kept secret
(`tokens`). Seconds and bytes are written out by reports/formatting.py, which the summary
tables use too (reports/ is a layer below this one). Nothing is imported here, so a module
takes only what it needs."""
