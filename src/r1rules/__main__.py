"""``python -m r1rules``: the r1rules command, as the console script runs it."""

from r1rules.cli import console

if __name__ == "__main__":
    console()
