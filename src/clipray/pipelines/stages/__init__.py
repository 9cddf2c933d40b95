"""One module per pipeline stage: a callable class plus a frozen config."""
