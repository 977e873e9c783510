"""massbench built-in plugin: fusion_torch."""
