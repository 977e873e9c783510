"""Built-in massbench plugins, each registered through the ``massbench`` entry-point group."""
