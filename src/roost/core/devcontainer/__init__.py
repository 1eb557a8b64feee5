"""devcontainer.json: finding, parsing (JSON with comments), variable substitution and merging
with image metadata, following the Dev Container specification (containers.dev).

Pure logic, shared by the CLI (``roost devcontainer read-configuration``) and the runner (which
builds and starts environments from it). The reference implementation,
``@devcontainers/cli``, is the oracle where the specification is unclear; the test suite
compares this package's ``read-configuration`` output with it field by field.
"""
