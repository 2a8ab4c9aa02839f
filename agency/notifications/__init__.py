"""In-app notifications: what the workflow told a member, listed on a page with an unread count."""
