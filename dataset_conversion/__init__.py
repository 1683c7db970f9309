"""Converters from public datasets (BraTS, IXI) and the simulated demo cohort to the raw layout."""
