"""The error a user can cause: caught at the command line and printed as one line."""


class InputError(Exception):
    """Bad user input (image, kernel, argument, output path); the message says what and why."""
