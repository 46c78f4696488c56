"""Small example models used by the README's quick start and the tests."""
