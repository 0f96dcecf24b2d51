"""Scale-out: PostgreSQL claims for the DICOM spool, shared debounce, prospective monitoring."""
