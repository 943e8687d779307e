"""Local upstreams that speak a helpdesk's real wire protocol, for trying and testing without an account."""
