"""Environments from devcontainer.json: the runner's half (resolution, image, users, hooks).

The configuration itself (parsing, variables, merging) is :mod:`roost.core.devcontainer`.
"""
