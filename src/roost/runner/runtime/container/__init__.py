"""The ``container`` runtime: crun with a user namespace per environment."""
