"""unified-ticketing: one REST API for helpdesk data, starting with LiveChat."""
