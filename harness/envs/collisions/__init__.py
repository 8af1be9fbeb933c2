"""The substep collision ledger and the body classes it sorts geoms into."""
