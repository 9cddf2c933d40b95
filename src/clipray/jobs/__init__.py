"""Jobs: the pure state machine (``machine``) and the work each step does (``steps``)."""
