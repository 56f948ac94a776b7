"""A small module with holes for `diffill fill examples/holes.py`."""

import os


def read_lines(path):
    """Return the lines of a text file without their newlines."""
    with open(path, encoding="utf-8") as f:
        ???


def count_words(lines):
    counts = {}
    for line in lines:
        for word in line.split():
            counts[word] = ???
    return counts


def main():
    path = os.path.join(os.getcwd(), "README.md")
    lines = read_lines(path)
    counts = count_words(lines)
    for word, n in sorted(counts.items(), key=lambda item: -item[1])[:10]:
        ???
