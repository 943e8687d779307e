"""unified-ticketing: one REST API for helpdesk data (tickets, comments, contacts, attachments)."""
