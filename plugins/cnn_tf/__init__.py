"""massbench built-in plugin: cnn_tf."""
