"""The runner: a host agent that turns the environments assigned to it into isolated, running
environments (crun containers with user namespaces), and reports what it observes."""
