"""Cluster edges: Ray connection and resources, the local head and the embedded services."""
