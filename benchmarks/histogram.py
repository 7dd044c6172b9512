"""The latency histogram now lives in the package (``freeorder.bench.histogram``), where the
engine harness (``python -m freeorder bench``) uses it too; these scripts import it from here."""

from freeorder.bench.histogram import HALF, LINEAR, SIZE, SUB_BITS, Histogram, bucket_of, highest_in_bucket, merged

__all__ = ["HALF", "LINEAR", "SIZE", "SUB_BITS", "Histogram", "bucket_of", "highest_in_bucket", "merged"]
