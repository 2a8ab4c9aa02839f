"""Loopback fakes of the outside world (social networks, Stripe) that speak their real HTTP APIs."""
