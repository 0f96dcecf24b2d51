"""DIMSE statuses the listener answers to C-STORE (PS3.4 Annex B.2.3, with sub-codes).

The standard fixes the ranges (A7xx refused: out of resources, A9xx error: data set does not match
SOP class, Cxxx error: cannot understand); the low byte says which of our reasons applied, and
every failure response also carries an Error Comment (0000,0902) naming it. C210/C211 follow
pynetdicom's own conventions. docs/dicom.md lists them with their reasons.
"""

from __future__ import annotations

SUCCESS = 0x0000
#: Refused: out of resources — spool quota reached, disk nearly full, write or fsync error
OUT_OF_RESOURCES = 0xA700
#: Refused: out of resources — decoded pixel size or dimensions beyond the configured limits
TOO_LARGE = 0xA701
#: Error: data set does not match SOP class — required attributes missing, invalid or inconsistent
DATASET_MISMATCH = 0xA900
#: Error: cannot understand — the bytes are not a parseable data set, or it is truncated
CANNOT_DECODE = 0xC210
#: Error: cannot understand — an unexpected failure inside the handler (a bug: see our log)
PROCESSING_FAILURE = 0xC211
