"""massbench built-in plugin: saliency."""
