"""DIMSE statuses the listener answers to C-STORE (PS3.4 B.2.3 and pynetdicom's conventions)."""

from __future__ import annotations

SUCCESS = 0x0000
#: Refused: out of resources (spool full, disk error)
OUT_OF_RESOURCES = 0xA700
#: Error: data set does not match SOP class (missing/invalid required attributes)
DATASET_MISMATCH = 0xA900
#: Error: cannot understand (pynetdicom's "failed to decode the dataset")
CANNOT_DECODE = 0xC210
#: Error: cannot understand, unexpected failure inside the handler
PROCESSING_FAILURE = 0xC211
