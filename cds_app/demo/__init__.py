"""`ventfusion demo`: a simulated ward and EHR driving the real app end to end."""
