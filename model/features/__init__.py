"""Feature building: the EHR hourly grid, film selection/loading and the windowed dataset."""
