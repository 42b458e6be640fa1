"""Ready-made graphs declared in Python."""
