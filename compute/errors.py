"""The one exception type that means 'the user's input is wrong' (exit code 2, one line)."""


class UserError(Exception):
    """Bad input: the message says what is wrong and how to fix it."""
