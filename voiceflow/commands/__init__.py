"""One module per ``voiceflow`` subcommand; each defines ``register(subparsers)``.

Modules import their heavy dependencies inside the command function, so
``voiceflow --help`` stays fast.
"""
