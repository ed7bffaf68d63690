"""Container images from ModelKits: a base image plus the ModelKit's layers, built without a Docker daemon."""
