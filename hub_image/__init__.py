"""What runs in the hub container: its configuration, spawner and user accounts."""
