"""Publishing engine (DESIGN.md §7): targets, RQ jobs, connectors, inbound sync."""
