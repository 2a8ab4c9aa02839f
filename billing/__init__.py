"""Rate cards, usage, invoices, Stripe and finance exports."""
