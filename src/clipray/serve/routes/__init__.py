"""One router per resource; ``serve.app`` includes them all under ``/api``."""
