"""massbench built-in plugin: mock."""
