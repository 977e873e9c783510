"""massbench built-in plugin: proxies."""
