"""Who may use the hub: user lists, usernames and the home directory each name maps to."""
