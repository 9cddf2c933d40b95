"""The Ray Serve application: one FastAPI ingress, a router per resource."""
