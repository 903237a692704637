"""Helpers of the keywords' arguments: the argument types Robot Framework converts
(`arguments`: Rate, Duration, ByteSize, Ratio, Percentile), tokens kept secret (`tokens`),
and how seconds and bytes read in messages (`formatting`, plain Python that reports/ uses
too). Nothing is imported here, so a module takes only what it needs."""
