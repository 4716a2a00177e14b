"""CLI subcommands, one module each. Each module defines `register(subparsers)`.

A command's handler takes the parsed namespace and returns the process exit code.
"""
