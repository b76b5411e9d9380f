"""Built-in event modules. Each registers under the `daihoi.plugins` entry point."""
