"""Stand-ins that let the hub run on your own machine without AWS: mocks, base image, registry."""
